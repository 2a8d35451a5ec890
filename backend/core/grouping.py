"""Pure grouping: tiers, union-find that respects a person's decisions, and stable group ids.

Tiers nest: exact ⊂ near ⊂ similar. The groups of a tier are the connected components of the
edges of that tier and the stricter ones. A near group with exactly the members of an exact
group adds nothing and is not reported. Pairs a person said are not duplicates (or chose to
keep both) may never end up in one group: an edge that would join them is skipped, strongest
edges first, so a dismissed group never comes back, not even through a new image. Pairs known
to be two shots (verification or EXIF: ``apart``) may share a similar group but never an exact
or near one: a chain of copies between frames of a video must not make two frames "copies".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Tier(StrEnum):
    EXACT = "exact"
    NEAR = "near"
    SIMILAR = "similar"


TIER_RANK = {Tier.EXACT: 0, Tier.NEAR: 1, Tier.SIMILAR: 2}


@dataclass(frozen=True, order=True)
class Edge:
    a: int
    b: int
    tier: Tier
    distance: float = 0.0

    def strength(self) -> tuple[int, float]:
        return TIER_RANK[self.tier], self.distance


def pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


@dataclass
class _Sets:
    parent: dict[int, int] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)

    def find(self, x: int) -> int:
        if x not in self.parent:
            self.parent[x] = x
            self.members[x] = {x}
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root


def components(
    edges: Iterable[Edge], forbidden: Mapping[int, set[int]] | None = None
) -> list[set[int]]:
    """Connected components (of two or more) of ``edges``, strongest first, never joining two
    nodes that ``forbidden`` keeps apart (a node -> the nodes it must not share a group with)."""
    forbidden = forbidden or {}
    sets = _Sets()
    for edge in sorted(edges, key=Edge.strength):
        ra, rb = sets.find(edge.a), sets.find(edge.b)
        if ra == rb:
            continue
        small, large = sorted((ra, rb), key=lambda r: len(sets.members[r]))
        big = sets.members[large]
        if any(forbidden.get(m, set()) & big for m in sets.members[small]):
            continue
        sets.parent[small] = large
        big |= sets.members.pop(small)
    return [m for r, m in sets.members.items() if sets.parent[r] == r and len(m) > 1]


@dataclass(frozen=True)
class Group:
    tier: Tier
    members: frozenset[int]


def tiered_groups(
    edges: Iterable[Edge],
    forbidden: Mapping[int, set[int]] | None = None,
    tiers: tuple[Tier, ...] = (Tier.EXACT, Tier.NEAR, Tier.SIMILAR),
    apart: Mapping[int, set[int]] | None = None,
) -> list[Group]:
    edges = list(edges)
    forbidden = forbidden or {}
    # Stricter than similar: what a person keeps apart, and what are two shots.
    strict = {
        node: forbidden.get(node, set()) | (apart or {}).get(node, set())
        for node in set(forbidden) | set(apart or {})
    }
    out: list[Group] = []
    stricter: set[frozenset[int]] = set()
    for tier in tiers:
        rank = TIER_RANK[tier]
        keep_apart = strict if rank < TIER_RANK[Tier.SIMILAR] else forbidden
        found = {
            frozenset(c)
            for c in components([e for e in edges if TIER_RANK[e.tier] <= rank], keep_apart)
        }
        out.extend(Group(tier, c) for c in sorted(found, key=min) if c not in stricter)
        stricter |= found
    return out


def forbidden_map(pairs: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for a, b in pairs:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


@dataclass(frozen=True)
class Reconciliation:
    keep: dict[int, Group]  # existing group id -> its new members
    create: list[Group]
    drop: list[int]  # existing group ids that no longer exist


def reconcile(existing: Mapping[int, Group], wanted: Iterable[Group]) -> Reconciliation:
    """Map freshly computed groups onto stored ones so ids stay put where members overlap:
    a group keeps the id of the stored group of its tier it shares most members with."""
    keep: dict[int, Group] = {}
    create: list[Group] = []
    by_member: dict[tuple[Tier, int], int] = {}
    for gid, g in existing.items():
        for m in g.members:
            by_member[(g.tier, m)] = gid
    for group in sorted(wanted, key=lambda g: (-len(g.members), min(g.members))):
        overlap: dict[int, int] = {}
        for m in group.members:
            match = by_member.get((group.tier, m))
            if match is not None and match not in keep:
                overlap[match] = overlap.get(match, 0) + 1
        if overlap:
            best = max(overlap, key=lambda gid: (overlap[gid], -gid))
            keep[best] = group
        else:
            create.append(group)
    drop = sorted(set(existing) - set(keep))
    return Reconciliation(keep, create, drop)
