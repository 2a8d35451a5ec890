"""Pure grouping: components, decisions that keep pairs apart, nested tiers, stable ids."""

from __future__ import annotations

from backend.core.grouping import (
    Edge,
    Group,
    Tier,
    components,
    forbidden_map,
    pair,
    reconcile,
    tiered_groups,
)

E, N, S = Tier.EXACT, Tier.NEAR, Tier.SIMILAR


def groups_of(found: list[Group]) -> set[tuple[Tier, frozenset[int]]]:
    return {(g.tier, g.members) for g in found}


class TestComponents:
    def test_connected_components_of_two_or_more(self) -> None:
        edges = [Edge(1, 2, N), Edge(2, 3, N), Edge(4, 5, E), Edge(6, 6, E)]
        assert sorted(map(sorted, components(edges))) == [[1, 2, 3], [4, 5]]

    def test_no_edges(self) -> None:
        assert components([]) == []

    def test_forbidden_pair_is_never_joined_directly(self) -> None:
        assert components([Edge(1, 2, E)], forbidden_map([(1, 2)])) == []

    def test_forbidden_pair_is_never_joined_through_a_third_node(self) -> None:
        edges = [Edge(1, 3, N, 2.0), Edge(2, 3, N, 4.0)]
        found = components(edges, forbidden_map([(1, 2)]))
        assert found == [{1, 3}]  # the stronger edge wins, 2 stays alone

    def test_forbidden_pair_kept_apart_in_a_long_chain(self) -> None:
        edges = [Edge(i, i + 1, N, float(i)) for i in range(1, 8)]
        assert components(edges) == [set(range(1, 9))]
        # The weakest link (7-8) is the one left out.
        assert components(edges, forbidden_map([(1, 8)])) == [set(range(1, 8))]

    def test_strongest_edges_join_first(self) -> None:
        edges = [Edge(2, 3, N, 7.0), Edge(1, 3, E), Edge(1, 2, N, 1.0)]
        # 1-3 (exact) joins first, then 1-2 would bring 2 next to 3: forbidden.
        assert components(edges, forbidden_map([(2, 3)])) == [{1, 3}]


class TestTieredGroups:
    def test_tiers_nest_and_equal_near_groups_are_not_repeated(self) -> None:
        edges = [
            Edge(1, 2, E),
            Edge(1, 3, N, 4.0),
            Edge(5, 6, E),  # exact only: no near group repeating it
            Edge(7, 8, N, 2.0),
        ]
        found = tiered_groups(edges, tiers=(E, N))
        assert groups_of(found) == {
            (E, frozenset({1, 2})),
            (E, frozenset({5, 6})),
            (N, frozenset({1, 2, 3})),
            (N, frozenset({7, 8})),
        }

    def test_similar_tier_contains_the_stricter_ones(self) -> None:
        edges = [Edge(1, 2, E), Edge(2, 3, N), Edge(3, 4, S, 20.0)]
        found = tiered_groups(edges)
        assert groups_of(found) == {
            (E, frozenset({1, 2})),
            (N, frozenset({1, 2, 3})),
            (S, frozenset({1, 2, 3, 4})),
        }

    def test_forbidden_applies_to_every_tier(self) -> None:
        edges = [Edge(1, 2, E), Edge(2, 3, N), Edge(1, 3, N)]
        found = tiered_groups(edges, forbidden_map([(1, 2)]), tiers=(E, N))
        assert all(not {1, 2} <= g.members for g in found)
        assert found  # 3 still pairs with one of them

    def test_two_shots_share_a_similar_group_but_never_a_near_one(self) -> None:
        """Frames 1 and 3 are proven two shots; 2 verified a copy of each (a chain of copies
        that a tiny motion slipped through). Near joins 2 to one of them only; similar keeps
        all three together."""
        edges = [Edge(1, 2, N, 2.0), Edge(2, 3, N, 3.0), Edge(1, 3, S, 6.0)]
        found = groups_of(tiered_groups(edges, None, (E, N, S), forbidden_map([(1, 3)])))
        assert found == {(N, frozenset({1, 2})), (S, frozenset({1, 2, 3}))}
        # Without the evidence, the chain makes all three one near group.
        assert groups_of(tiered_groups(edges)) == {(N, frozenset({1, 2, 3}))}
        # A person's decision still applies to every tier alongside.
        decided = tiered_groups(edges, forbidden_map([(2, 3)]), (E, N, S), forbidden_map([(1, 3)]))
        assert groups_of(decided) == {(N, frozenset({1, 2}))}

    def test_edge_ordering_and_pair(self) -> None:
        assert pair(5, 2) == (2, 5) == pair(2, 5)
        assert Edge(1, 2, E).strength() < Edge(1, 2, N, 0.0).strength()
        assert Edge(1, 2, N, 1.0).strength() < Edge(1, 2, N, 3.0).strength()


class TestForbiddenMap:
    def test_symmetric(self) -> None:
        assert forbidden_map([(1, 2), (1, 3)]) == {1: {2, 3}, 2: {1}, 3: {1}}


class TestReconcile:
    def test_ids_follow_the_largest_overlap(self) -> None:
        existing = {10: Group(N, frozenset({1, 2, 3})), 11: Group(N, frozenset({4, 5}))}
        wanted = [Group(N, frozenset({1, 2, 3, 9})), Group(N, frozenset({4, 5}))]
        plan = reconcile(existing, wanted)
        assert plan.keep == {10: wanted[0], 11: wanted[1]}
        assert plan.create == [] and plan.drop == []

    def test_new_groups_are_created_and_vanished_ones_dropped(self) -> None:
        existing = {10: Group(N, frozenset({1, 2})), 11: Group(E, frozenset({7, 8}))}
        wanted = [Group(N, frozenset({3, 4}))]
        plan = reconcile(existing, wanted)
        assert plan.keep == {} and plan.create == wanted and plan.drop == [10, 11]

    def test_a_split_group_keeps_its_id_on_the_bigger_half(self) -> None:
        existing = {10: Group(N, frozenset({1, 2, 3, 4, 5}))}
        small, big = Group(N, frozenset({1, 2})), Group(N, frozenset({3, 4, 5}))
        plan = reconcile(existing, [small, big])
        assert plan.keep == {10: big} and plan.create == [small]

    def test_tiers_do_not_share_ids(self) -> None:
        existing = {10: Group(E, frozenset({1, 2}))}
        near = Group(N, frozenset({1, 2, 3}))
        plan = reconcile(existing, [Group(E, frozenset({1, 2})), near])
        assert set(plan.keep) == {10} and plan.create == [near]

    def test_merged_groups_keep_one_id(self) -> None:
        existing = {10: Group(N, frozenset({1, 2})), 11: Group(N, frozenset({3, 4}))}
        merged = Group(N, frozenset({1, 2, 3, 4}))
        plan = reconcile(existing, [merged])
        assert plan.keep == {10: merged} and plan.drop == [11]
