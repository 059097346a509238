"""Malformed files: each gets a clear one-line message, or its bad rows are rejected one by one (with their
line and the reason) while the good ones are imported. No traceback, nothing silently dropped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from click.testing import Result

from .support import one_line_error, read_csv


def put(tmp_path: Path, data: bytes, name: str = "users.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def first_name(api: httpx2.Client, email: str) -> object:
    body = api.get(f"/api/users/{email}").json()
    return body["user"]["dataFields"].get("firstName") if body else None


def test_latin1_bytes_in_a_utf8_import_are_rejected_row_by_row(cli: Callable[..., Result], tmp_path: Path,
                                                               api: httpx2.Client) -> None:  # fmt: skip
    data = "Email,firstName\r\na@example.com,Ann\r\nb@example.com,Zoë\r\nc@example.com,Chloé\r\n".encode("latin-1")
    path = put(tmp_path, data)
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(path), "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "3 rows read, 1 sent, 1 accepted, 2 rejected" in result.stderr
    raw = rejects.read_bytes().split(b"\r\n")
    reason = b"firstName: byte 0xeb is not valid in the file's encoding (pass --encoding, e.g. latin-1)"
    assert raw[1] == b'3,"' + reason + b'",b@example.com,Zo\xeb'  # the original bytes, unchanged
    assert raw[2].endswith(b"c@example.com,Chlo\xe9")
    assert first_name(api, "a@example.com") == "Ann"

    fixed = cli("import", "Users", str(path), "--encoding", "latin-1")
    assert fixed.exit_code == 0, fixed.output
    assert (first_name(api, "b@example.com"), first_name(api, "c@example.com")) == ("Zoë", "Chloé")


def test_a_header_in_the_wrong_encoding_is_a_clear_error(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = put(tmp_path, "Email,Prénom\r\na@example.com,x\r\n".encode("latin-1"))
    message = one_line_error(cli("import", "Users", str(path)))
    assert "line 1: the header is not valid utf-8 text; pass --encoding (e.g. latin-1)" in message


def test_a_utf16_file_is_named(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = put(tmp_path, "Email,firstName\r\na@example.com,Ann\r\n".encode("utf-16"))
    message = one_line_error(cli("import", "Users", str(path)))
    assert "--encoding utf-16" in message
    fixed = cli("import", "Users", str(path), "--encoding", "utf-16")
    assert fixed.exit_code == 0, fixed.output


def test_a_bom_is_not_part_of_the_first_column(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    path = put(tmp_path, "\ufeffEmail,firstName\r\nbom@example.com,Bo\r\n".encode())
    result = cli("import", "Users", str(path))
    assert result.exit_code == 0, result.output
    assert "ignored" not in result.stderr
    assert first_name(api, "bom@example.com") == "Bo"


def test_an_unbalanced_quote_rejects_the_rest_of_the_file_as_one_record(cli: Callable[..., Result], tmp_path: Path,
                                                                       api: httpx2.Client) -> None:  # fmt: skip
    data = b'Email,firstName\nq1@example.com,Ann\nq2@example.com,"Bob\nq3@example.com,Cy\nq4@example.com,Di\n'
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(put(tmp_path, data)), "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "2 rows read, 1 sent, 1 accepted, 1 rejected" in result.stderr
    found = read_csv(rejects)
    assert found[0]["_line"] == "3"
    assert found[0]["_reason"] == ("unbalanced quote: the field opened on line 3 is never closed, so the rest of the "
                                   "file (to line 5) could not be read")  # fmt: skip
    assert found[0]["Email"] == 'q2@example.com,"Bob\nq3@example.com,Cy\nq4@example.com,Di\n'  # the raw text
    assert first_name(api, "q1@example.com") == "Ann"


def test_a_stray_quote_rejects_one_line(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    data = b'Email,firstName\nx1@example.com,"Ann"e\nx2@example.com,Bo\n'
    result = cli("import", "Users", str(put(tmp_path, data)))
    assert result.exit_code == 1
    assert "2 rows read, 1 sent, 1 accepted, 1 rejected" in result.stderr
    assert "line 2: malformed CSV on line 2: ',' expected after '\"'" in result.stderr
    assert first_name(api, "x2@example.com") == "Bo"


def test_ragged_rows_are_rejected(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    data = b"Email,firstName,lastName\nr1@example.com,Ann\nr2@example.com,Bo,B,extra\nr3@example.com,Cy,C\n"
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "Users", str(put(tmp_path, data)), "--rejects", str(rejects))
    assert "3 rows read, 1 sent, 1 accepted, 2 rejected" in result.stderr
    lines = rejects.read_text().splitlines()
    assert lines[1] == '2,"expected 3 fields, found 2",r1@example.com,Ann'
    assert lines[2] == '3,"expected 3 fields, found 4",r2@example.com,Bo,B,extra'
    assert first_name(api, "r3@example.com") == "Cy"


def test_an_empty_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert "is empty: expected a header line and rows" in one_line_error(
        cli("import", "Users", str(put(tmp_path, b"")))
    )
    assert "is empty" in one_line_error(cli("import", "Users", str(put(tmp_path, b"\r\n\r\n"))))


def test_a_header_only_file_imports_nothing_and_succeeds(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("import", "Users", str(put(tmp_path, b"Email,firstName\r\n")))
    assert result.exit_code == 0, result.output
    assert "Users insert: 0 rows read, 0 sent, 0 accepted, 0 rejected" in result.stderr


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"Email,firstName,EMAIL", "line 1: duplicate column(s) in the header: email"),
        (b"Email,,firstName", "line 1: column(s) 2 of the header have no name"),
        (b"Email;firstName", "the file looks semicolon-separated (pass --delimiter semicolon)"),
        (b"Email\tfirstName", "the file looks tab-separated (pass --delimiter tab)"),
    ],
)
def test_header_problems(cli: Callable[..., Result], tmp_path: Path, header: bytes, message: str) -> None:
    assert message in one_line_error(cli("import", "Users", str(put(tmp_path, header + b"\r\nx@example.com,y,z\r\n"))))


def test_blank_lines_are_skipped_and_line_numbers_stay_true(cli: Callable[..., Result], tmp_path: Path) -> None:
    data = b"Email,loyaltyPoints\r\n\r\nb1@example.com,1\r\n   \r\n\r\nb2@example.com,x\r\n\r\n"
    result = cli("import", "Users", str(put(tmp_path, data)))
    assert "2 rows read, 1 sent, 1 accepted, 1 rejected" in result.stderr
    assert "line 6: loyaltyPoints: expected a whole number, found 'x'" in result.stderr


def test_nul_bytes_are_rejected(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    data = b"Email,firstName\nn1@example.com,A\x00nn\nn2@example.com,Bo\n"
    result = cli("import", "Users", str(put(tmp_path, data)))
    assert "2 rows read, 1 sent, 1 accepted, 1 rejected" in result.stderr
    assert "line 2: firstName: contains a NUL byte (a binary file, or UTF-16 text?)" in result.stderr
    assert first_name(api, "n1@example.com") is None


def test_a_very_long_field(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    long_text = "x" * 300_000 + "\n" + '"quoted"' * 1000
    path = tmp_path / "long.csv"
    path.write_text('Email,bio\r\nlong@example.com,"' + long_text.replace('"', '""') + '"\r\n', encoding="utf-8")
    result = cli("import", "Users", str(path))
    assert result.exit_code == 0, result.output
    assert api.get("/api/users/long@example.com").json()["user"]["dataFields"]["bio"] == long_text


def test_old_mac_line_endings(cli: Callable[..., Result], tmp_path: Path, api: httpx2.Client) -> None:
    result = cli("import", "Users", str(put(tmp_path, b"Email,firstName\rcr@example.com,Cr\r")))
    assert result.exit_code == 0, result.output
    assert first_name(api, "cr@example.com") == "Cr"


def test_no_such_file_or_a_directory(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert "no such file" in one_line_error(cli("import", "Users", str(tmp_path / "missing.csv")))
    assert "is a directory" in one_line_error(cli("import", "Users", str(tmp_path)))


def test_an_unwritable_rejects_file_is_a_clear_error(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = put(tmp_path, b"Email\r\nx@example.com\r\n")
    message = one_line_error(cli("import", "Users", str(path), "--rejects", str(tmp_path / "no" / "dir.csv")))
    assert "--rejects" in message
    assert "No such file or directory" in message
