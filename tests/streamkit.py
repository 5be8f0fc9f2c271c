"""A tiny in-memory event source for the trainer's tests: wabbit.stream.Source's interface
(poll, positions, seek, commit, lag, close) over lists of byte lines.

Partition ``p`` of a ``ListSource(lines, partitions=P)`` holds the lines ``i`` with
``i % P == p`` at offsets ``i // P``; a poll takes records round-robin over the partitions, from
each one's position, so what a poll returns depends only on the positions (deterministic, as the
exactly-once tests need). ``visible`` limits how many lines exist yet (a stream that grows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union


@dataclass(frozen=True)
class Record:
    value: bytes
    partition: str
    offset: int
    timestamp: float
    key: Optional[bytes] = None


class ListSource:
    def __init__(
        self,
        lines: Sequence[Union[str, bytes]],
        partitions: int = 1,
        *,
        name: str = "t",
        times: Optional[Sequence[float]] = None,
        visible: Optional[int] = None,
    ) -> None:
        self.lines = [x.encode() if isinstance(x, str) else x for x in lines]
        self.times = list(times) if times is not None else [float(i) for i in range(len(self.lines))]
        self.names = [f"{name}/{p}" for p in range(partitions)]
        self.next: Dict[str, int] = {n: 0 for n in self.names}
        self.visible = len(self.lines) if visible is None else visible
        self.committed: Dict[str, int] = {}
        self.commits = 0
        self.closed = False

    def _index(self, p: int, offset: int) -> int:
        return offset * len(self.names) + p

    def poll(self, max_records: int = 1000, timeout: float = 0.0) -> List[Record]:
        out: List[Record] = []
        progress = True
        while len(out) < max_records and progress:
            progress = False
            for p, n in enumerate(self.names):
                if len(out) >= max_records:
                    break
                i = self._index(p, self.next[n])
                if i < self.visible:
                    out.append(Record(self.lines[i], n, self.next[n], self.times[i]))
                    self.next[n] += 1
                    progress = True
        return out

    def positions(self) -> Dict[str, int]:
        return dict(self.next)

    def seek(self, positions: Dict[str, int]) -> None:
        for k, v in positions.items():
            if k not in self.next:
                raise ValueError(f"no partition {k!r}")
            self.next[k] = int(v)

    def commit(self, positions: Dict[str, int]) -> None:
        self.committed = dict(positions)
        self.commits += 1

    def lag(self) -> Optional[int]:
        return sum(
            max(0, len(range(p, self.visible, len(self.names))) - self.next[n]) for p, n in enumerate(self.names)
        )

    def close(self) -> None:
        self.closed = True
