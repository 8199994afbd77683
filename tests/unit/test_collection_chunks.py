"""How a collection's add is split into bodies the worker will read (``worker_chunks``)."""

from __future__ import annotations

from api.routes.collections import worker_chunks


def test_files_are_grouped_in_order_within_the_byte_limit() -> None:
    files = [b"a" * 4, b"b" * 4, b"c" * 3, b"d" * 9, b"e" * 1]
    chunks = worker_chunks(files, 10)
    assert chunks == [[0, 1], [2], [3, 4]]
    assert [i for chunk in chunks for i in chunk] == list(range(len(files)))
    assert all(sum(len(files[i]) for i in chunk) <= 10 for chunk in chunks)


def test_a_file_over_the_limit_travels_alone_and_nothing_is_no_chunk() -> None:
    assert worker_chunks([b"x" * 3, b"y" * 20, b"z"], 10) == [[0], [1], [2]]
    assert worker_chunks([], 10) == []
