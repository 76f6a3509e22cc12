import numpy as np

def scan_json(
    buf: bytes,
    keys: list[tuple[bytes, bytes, int]],
    tables: tuple[tuple[np.ndarray, np.ndarray], ...],
    max_line: int,
) -> tuple[int, list[tuple[int, int]], list[tuple[int, bytes, int, int]]]: ...
def bucket_index(values: np.ndarray, signed_hash: bool) -> np.ndarray: ...
