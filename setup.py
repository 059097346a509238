"""The C scanner of events' export lines (src/iterbridge/_eventscan.c), built where a C compiler is.

`optional=True`: without a compiler or Python's headers the build goes on without it, and iterbridge reads
exports with its Python path (the same rows, slower). Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "iterbridge._eventscan",
            sources=["src/iterbridge/_eventscan.c"],
            extra_compile_args=["-O2", "-std=c11"],
            libraries=["dl"],
            optional=True,
        )
    ]
)
