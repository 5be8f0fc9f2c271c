"""Seeded logged contextual-bandit data in VW's multiline (ADF) format, for the cb tests.

Each event: a shared line with user features (namespace ``u``), ``actions`` action lines with
action features (namespace ``a``), the label ``index:cost:probability`` on the logged action's line,
and a blank line. The logging policy is epsilon-greedy over a fixed noisy preference, so the
probabilities vary (``1 - eps + eps/K`` or ``eps/K``); costs are 0/1 (or real with ``real_costs``)
from a hidden user x action model.
"""

from __future__ import annotations

import random
from typing import List


def events(
    n: int, actions: int = 10, seed: int = 1, real_costs: bool = False, unlabeled_every: int = 0, eps: float = 0.3
) -> List[str]:
    rng = random.Random(seed)
    users = [{f"f{j}": round(rng.uniform(-1, 1), 3) for j in rng.sample(range(20), 4)} for _ in range(50)]
    out: List[str] = []
    for e in range(n):
        user = rng.randrange(len(users))
        feats = users[user]
        shared = "shared |u " + " ".join(f"{k}:{v}" for k, v in feats.items()) + f" user={user}"
        acts = [f"|a id={a} kind={a % 3} price:{round(0.5 + 0.1 * a, 2)}" for a in range(actions)]
        best = (user * 7 + 3) % actions
        greedy = (user * 7 + 3 + (1 if rng.random() < 0.3 else 0)) % actions
        chosen = greedy if rng.random() > eps else rng.randrange(actions)
        p = (1 - eps + eps / actions) if chosen == greedy else eps / actions
        if real_costs:
            cost = round(abs(chosen - best) / actions + rng.uniform(-0.1, 0.1), 3)
        else:
            cost = 0.0 if (chosen == best and rng.random() < 0.9) or rng.random() < 0.1 else 1.0
        lines = [shared]
        for a, text in enumerate(acts):
            if unlabeled_every and e % unlabeled_every == unlabeled_every - 1:
                lines.append(text)
            else:
                lines.append((f"{a}:{cost}:{round(p, 6)} " if a == chosen else "") + text)
        out.append("\n".join(lines) + "\n")
    return out


def write(path: str, n: int, **kw) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(events(n, **kw)) + "\n")


def fixed_lines(n: int, actions: int = 5, seed: int = 2, eps: float = 0.4) -> List[str]:
    """Single-line examples for --cb K: ``action:cost:probability |u features`` (actions 1..K)."""
    rng = random.Random(seed)
    users = [{f"f{j}": round(rng.uniform(-1, 1), 3) for j in rng.sample(range(20), 4)} for _ in range(30)]
    out: List[str] = []
    for _e in range(n):
        user = rng.randrange(len(users))
        best = user % actions + 1
        chosen = best if rng.random() > eps else rng.randrange(actions) + 1
        p = (1 - eps + eps / actions) if chosen == best else eps / actions
        cost = round(0.0 if chosen == best else rng.uniform(0.5, 1.0), 3)
        feats = " ".join(f"{k}:{v}" for k, v in users[user].items())
        out.append(f"{chosen}:{cost}:{round(p, 6)} |u {feats} user={user} |v g{user % 4}")
    return out
