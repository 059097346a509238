"""Bulk generation for exports: the draws of `rand.Rng` for a block of records at once, and JSON lines
assembled from text pieces.

The scalar generators build one record at a time (~30-100 µs each in Python) and serve the lookup
endpoints. An export streams hundreds of thousands of records per second, so its generators draw a whole
block with numpy instead: draw k of a record's stream is splitmix64(key + k·golden), so the k-th draw of
every record is one array operation, and a draw made only on some branch advances only the records on it
(`where=`). The bulk generators make exactly the scalar generators' records, byte for byte
(tests/sandbox/test_bulk.py compares them over whole histories).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]
from numpy.typing import NDArray

from iterbridge.sandbox.data.timefmt import CLOCK_MINUTES, CLOCK_SECONDS, day_prefix

U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]
Mask = NDArray[np.bool_]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53


def _finalize(x: U64) -> U64:
    x = (x ^ (x >> _S30)) * _C1
    x = (x ^ (x >> _S27)) * _C2
    return x ^ (x >> _S31)


def mix64(x: U64) -> U64:
    """rand.mix64 of every element (uint64 arithmetic wraps like the scalar version's & _M64)."""
    return _finalize(x + _GOLDEN)


class BulkRng:
    """`rand.Rng` for many keys: each method draws for every row; with `where`, only the rows where it is
    true take the draw (the others' streams do not move and their values are meaningless)."""

    __slots__ = ("state",)

    def __init__(self, keys: U64) -> None:
        self.state = keys.copy()

    def bits(self, where: Mask | None = None) -> U64:
        advanced = self.state + _GOLDEN
        self.state = advanced if where is None else np.where(where, advanced, self.state)
        return _finalize(advanced)

    def random(self, where: Mask | None = None) -> NDArray[np.float64]:
        return (self.bits(where) >> _S11).astype(np.float64) * _TO_UNIT

    def below(self, n: int | I64, where: Mask | None = None) -> I64:
        modulus = np.uint64(n) if isinstance(n, int) else np.maximum(n, 1).astype(np.uint64)
        return (self.bits(where) % modulus).astype(np.int64)

    def between(self, low: int, high: int, where: Mask | None = None) -> I64:
        return low + self.below(high - low + 1, where)

    def chance(self, probability: float, where: Mask | None = None) -> Mask:
        drawn = self.random(where) < probability
        return drawn if where is None else drawn & where

    def weighted(self, cumulative: Sequence[float], where: Mask | None = None) -> I64:
        """The index Rng.weighted picks: the first edge above the draw."""
        found = np.searchsorted(np.asarray(cumulative), self.random(where), side="right")
        return np.minimum(found, len(cumulative) - 1).astype(np.int64)

    def sample(self, size: int, count: I64, where: Mask) -> I64:
        """Rng.sample of positions in a pool of `size` items, `count` per row: rows × max(count) positions,
        -1 past a row's count. A draw j picks the j-th item still in the pool, as list.pop(j) does: j moves
        past every earlier pick at or below it, taken in ascending order."""
        count = np.where(where, np.minimum(count, size), 0)
        rows = len(count)
        steps = int(count.max()) if rows else 0
        picks = np.full((rows, steps), -1, dtype=np.int64)
        taken: list[I64] = []  # the picks so far, ascending in each row (`size` once a row has stopped)
        for step in range(steps):
            active = count > step
            position = self.below(size - step, active)
            for earlier in taken:
                position += position >= earlier
            position = np.where(active, position, size)
            picks[:, step] = np.where(active, position, -1)
            for rank, earlier in enumerate(taken):  # insert, keeping each row's picks in order
                taken[rank], position = np.minimum(earlier, position), np.maximum(earlier, position)
            taken.append(position)
        return picks

    def hex(self, length: int, where: Mask | None = None) -> pa.Array:
        """Rng.hex of the rows that draw, as text (one draw per 16 digits, the last one cut)."""
        return hex_texts([self.bits(where) for _ in range(-(-length // 16))], length, where)


def hex_texts(draws: list[U64], length: int, where: Mask | None = None) -> pa.Array:
    """The first `length` hex digits of the draws written one after the other, for the rows `where` is true
    (each draw's big-endian bytes through bytes.hex, which is C speed)."""
    drawn = np.stack(draws if where is None else [values[where] for values in draws], axis=1)
    digits = np.frombuffer(drawn.astype(">u8").tobytes().hex().encode("ascii"), dtype=np.uint8)
    if length != 16 * len(draws):
        digits = digits.reshape(len(drawn), 16 * len(draws))[:, :length].reshape(-1)
    offsets = np.arange(0, digits.size + 1, length, dtype=np.int32)
    return pa.StringArray.from_buffers(len(drawn), pa.py_buffer(offsets), pa.py_buffer(digits))


# ---- JSON lines from pieces ------------------------------------------------------------------------


def rounded(values: NDArray[np.float64], digits: int) -> NDArray[np.float64]:
    """round(value, digits) of every element, as Python rounds: the double nearest the decimal rounding of the
    exact value. rint(value * 10**digits) / 10**digits gives it except next to a tie, where the product's
    own rounding may decide; those few are rounded by Python."""
    scale = 10.0**digits
    scaled = values * scale
    found: NDArray[np.float64] = np.rint(scaled) / scale
    near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if near_tie.any():
        found[near_tie] = [round(value, digits) for value in values[near_tie].tolist()]
    return found


def numbers(values: NDArray[np.float64]) -> pa.Array:
    """Each float as orjson writes it (byte-identical to the scalar path's orjson.dumps), as a string array:
    orjson writes the whole array at once, and the commas between numbers are what cut it into texts."""
    written = np.frombuffer(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), dtype=np.uint8)[1:-1]
    commas = np.flatnonzero(written == _COMMA)
    digits = np.delete(written, commas)
    offsets = np.empty(len(values) + 1, dtype=np.int32)
    offsets[0], offsets[-1] = 0, len(digits)
    offsets[1:-1] = commas - np.arange(len(commas))
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(digits))


_COMMA = ord(",")


def json_texts(values: Iterable[Any]) -> tuple[str, ...]:
    """A vocabulary as JSON texts, for JsonLines.choose."""
    return tuple(orjson.dumps(value).decode() for value in values)


@lru_cache(maxsize=4096)
def _table(texts: tuple[str, ...]) -> pa.Array:
    return pa.array(texts, pa.string())


@lru_cache(maxsize=4096)
def _pairs(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Every word of `first` followed by every word of `second`, at first position × len(second) + second's."""
    return tuple(a + b for a in first for b in second)


_MOST_PAIRS = 4096

# Timestamps as two pieces: '"YYYY-MM-DD HH:' and 'MM:SS +00:00"' (the second of 3,600 in an hour).
_IN_HOUR = _table(tuple(minute[3:] + second + '"' for minute in CLOCK_MINUTES[:60] for second in CLOCK_SECONDS))
_BOOLEANS = ("false", "true")
_SMALL_NUMBERS = 10_000


@lru_cache(maxsize=1)
def _small_numbers() -> pa.Array:
    """The digits of 0 … _SMALL_NUMBERS - 1, one table for the process."""
    return pa.array([str(number) for number in range(_SMALL_NUMBERS)], pa.string())


def _hour_prefix(hour: int) -> str:
    return f'"{day_prefix(hour // 24)}{CLOCK_MINUTES[hour % 24 * 60][:3]}'


class _HourPrefixes:
    """'"YYYY-MM-DD HH:' of a run of hours, as one table kept for the process: the histories of the projects
    served fall in a few years, so it is built about once and then only grown (never past _MOST_HOURS)."""

    run: tuple[int, pa.Array] = (0, pa.array([], pa.string()))  # (first hour, table): replaced, never changed

    @classmethod
    def covering(cls, first: int, last: int) -> tuple[int, pa.Array] | None:
        start, table = cls.run
        if start <= first and last < start + len(table):
            return start, table
        if len(table):
            first, last = min(first, start), max(last, start + len(table) - 1)
        first, last = first - 24 * 30, last + 24 * 30  # a month of room each side
        if last - first > _MOST_HOURS:
            return None
        cls.run = (first, pa.array([_hour_prefix(hour) for hour in range(first, last + 1)], pa.string()))
        return cls.run


_MOST_HOURS = 24 * 366 * 10


@dataclass(frozen=True, slots=True)
class _Word:
    """A piece that is a word of a vocabulary (a text: a vocabulary of one), in the rows `where` is true."""

    vocabulary: tuple[str, ...]
    position: I64
    where: Mask | None


_Piece = _Word | I64  # a word, or an index into a table already placed (digits, times, texts per row)


class _Items:
    """The pieces of a line in order, neighbouring words merged into one while their table of pairs stays
    small (words of different rows merge too: each is the empty text in the rows it is not in)."""

    def __init__(self) -> None:
        self.merged: list[_Piece] = []
        self._masks: dict[tuple[int, int], Mask] = {}

    def both(self, present: Mask | None, where: Mask | None) -> Mask | None:
        """present & where, the same object for the same two masks (so their words can merge)."""
        if present is None or where is None:
            return where if present is None else present
        key = (id(present), id(where))
        if key not in self._masks:
            self._masks[key] = present & where
        return self._masks[key]

    def add(self, item: _Piece) -> None:
        last = self.merged[-1] if self.merged else None
        if isinstance(item, _Word) and isinstance(last, _Word):
            if last.where is item.where:
                if len(last.vocabulary) * len(item.vocabulary) <= _MOST_PAIRS:
                    self.merged[-1] = _merged(last, item, item.where)
                    return
            elif _size(last) * _size(item) <= _MOST_PAIRS:
                self.merged[-1] = _merged(_unmasked(last), _unmasked(item), None)
                return
        self.merged.append(item)


def _size(word: _Word) -> int:
    """How many texts the word has once unmasked."""
    return len(word.vocabulary) + (word.where is not None)


def _unmasked(word: _Word) -> _Word:
    """The same word in every row: the empty text (first) in the rows it was not in."""
    if word.where is None:
        return word
    return _Word(("", *word.vocabulary), np.where(word.where, word.position + 1, 0), None)


def _merged(first: _Word, second: _Word, where: Mask | None) -> _Word:
    """One word for two neighbours in the same rows: its vocabulary is every pair of theirs."""
    position = first.position * len(second.vocabulary) + second.position
    return _Word(_pairs(first.vocabulary, second.vocabulary), position, where)


class JsonLines:
    """JSON objects, one line per row, assembled from text pieces with one gather.

    Every piece of every row (a field's name, a word of a vocabulary, a number's digits, punctuation) is an
    index into one table of strings, and the block of lines is pyarrow's `take` of that table by the
    row-major matrix of indices: its data buffer is the lines' bytes. A piece a row does not have points at
    the table's empty string. Nothing is done in Python per row.
    """

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._tables: list[pa.Array] = [_table(("",))]
        self._bases: dict[int, int] = {id(self._tables[0]): 0}
        self._size = 1
        self._fields: dict[str, tuple[Mask | None, list[_Piece]]] = {}
        self._pieces: list[_Piece] = []
        self._zeros = np.zeros(rows, dtype=np.int64)

    # ---- building ------------------------------------------------------------------------------------

    def field(self, name: str, present: Mask | None = None) -> JsonLines:
        """Start a field: the pieces added next make its value (absent from the rows where `present` is false)."""
        self._pieces = []
        self._fields[name] = (present, self._pieces)
        return self

    def _base(self, table: pa.Array) -> int:
        """Where a table starts in the concatenation (a table used twice is in it once)."""
        base = self._bases.get(id(table))
        if base is None:
            base = self._bases[id(table)] = self._size
            self._tables.append(table)
            self._size += len(table)
        return base

    def _add(self, index: I64, where: Mask | None = None) -> JsonLines:
        self._pieces.append(index if where is None else np.where(where, index, 0))
        return self

    # Each piece is in every row of its field, or only in the rows where `where` is true. Texts and words of
    # vocabularies stay words until the lines are made: neighbours then become one piece (a table of every
    # pair, made once), since fewer pieces make a faster gather.

    def text(self, constant: str, where: Mask | None = None) -> JsonLines:
        self._pieces.append(_Word((constant,), self._zeros, where))
        return self

    def choose(self, vocabulary: tuple[str, ...], position: I64, where: Mask | None = None) -> JsonLines:
        """A word of a fixed vocabulary (its texts already JSON) by position."""
        self._pieces.append(_Word(vocabulary, position, where))
        return self

    def texts(self, texts: pa.Array | Sequence[str], where: Mask | None = None) -> JsonLines:
        """A text (already JSON) per row, or per row where `where` is true."""
        table = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
        rank = np.arange(self.rows, dtype=np.int64) if where is None else np.cumsum(where) - 1
        return self._add(self._base(table) + rank, where)

    def integers(self, values: I64, where: Mask | None = None) -> JsonLines:
        if len(values) and values.min() >= 0 and values.max() < _SMALL_NUMBERS:  # from the table: no digits made
            return self._add(self._base(_small_numbers()) + values, where)
        return self._add(self._base(pc.cast(pa.array(values), pa.string())) + np.arange(self.rows), where)

    def padded(self, values: I64, width: int, where: Mask | None = None) -> JsonLines:
        """f"{value:0{width}d}" of non-negative values."""
        texts = pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")
        return self._add(self._base(texts) + np.arange(self.rows), where)

    def booleans(self, values: Mask, where: Mask | None = None) -> JsonLines:
        return self.choose(_BOOLEANS, values.astype(np.int64), where)

    def time(self, ms: I64) -> JsonLines:
        """iterable_time(ms) as a JSON string."""
        hours, rest = np.divmod(ms // 1000, 3_600)
        run = _HourPrefixes.covering(int(hours.min()), int(hours.max())) if len(hours) else None
        if run is None:  # hours too far apart for the kept table: a table of this block's own
            unique_hours, position = np.unique(hours, return_inverse=True)
            run = (0, pa.array([_hour_prefix(hour) for hour in unique_hours.tolist()], pa.string()))
            hours = position.astype(np.int64)
        self._add(self._base(run[1]) + (hours - run[0]))
        return self._add(self._base(_IN_HOUR) + rest)

    @property
    def names(self) -> list[str]:
        return list(self._fields)

    def narrow(self, keep: Iterable[str]) -> None:
        """Keep only these fields (the export's onlyFields / omitFields), in their order."""
        wanted = set(keep)
        self._fields = {name: field for name, field in self._fields.items() if name in wanted}

    # ---- output --------------------------------------------------------------------------------------------

    def _matrix(self) -> NDArray[np.int32]:
        items = _Items()
        items.add(_Word(("{",), self._zeros, None))
        seen = np.zeros(self.rows, dtype=np.bool_)  # rows that have a field already: the next needs a comma
        seen_by_all = False
        for name, (present, pieces) in self._fields.items():
            key = orjson.dumps(name).decode() + ":"
            if seen_by_all or not seen.any():
                prefix = _Word(("," + key if seen_by_all else key,), self._zeros, present)
            else:
                prefix = _Word((key, "," + key), seen.astype(np.int64), present)
            items.add(prefix)
            for piece in pieces:
                if isinstance(piece, _Word):
                    items.add(_Word(piece.vocabulary, piece.position, items.both(present, piece.where)))
                else:
                    items.add(piece if present is None else np.where(present, piece, 0))
            if present is None:
                seen_by_all = True
            else:
                seen |= present
        items.add(_Word(("}\n",), self._zeros, None))
        columns = [self._resolved(item) for item in items.merged]
        matrix = np.empty((self.rows, len(columns)), dtype=np.int32)  # half the memory of int64 indices
        for number, column in enumerate(columns):
            matrix[:, number] = column
        return matrix

    def _resolved(self, item: _Piece) -> I64:
        if not isinstance(item, _Word):
            return item
        index = self._base(_table(item.vocabulary)) + item.position
        return index if item.where is None else np.where(item.where, index, 0)

    def _gathered(self) -> pa.Array:
        matrix = self._matrix()  # adds the tables of names and braces: before the concatenation
        return pc.take(pa.concat_arrays(self._tables), pa.array(matrix.ravel()))

    def block(self) -> bytes:
        """Every row's line, in order, as one bytes block."""
        if not self.rows:
            return b""
        gathered = self._gathered()
        offsets = np.frombuffer(gathered.buffers()[1], dtype=np.int32, count=len(gathered) + 1)
        start, end = int(offsets[0]), int(offsets[-1])
        data: bytes = gathered.buffers()[2].slice(start, end - start).to_pybytes()  # one copy, of the lines only
        return data

    def lines(self) -> list[bytes]:
        """Each row's line."""
        block = self.block()
        return [line + b"\n" for line in block.split(b"\n")[:-1]]
