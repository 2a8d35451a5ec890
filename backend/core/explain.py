"""Why two images were matched, in words a person understands (pure)."""

from __future__ import annotations

from backend.core.grouping import Tier


def explain_pair(
    tier: Tier,
    hash_distance: float | None,
    copy_similarity: float | None,
    semantic_similarity: float | None,
    shared_objects: list[str],
    decided_by: str | None = None,
) -> str:
    """``decided_by``: what verification or EXIF said of a would-be near pair, said first."""
    parts: list[str] = [decided_by] if decided_by else []
    if tier == Tier.EXACT:
        parts.append("identical pictures (same file or same pixels)")
    elif hash_distance is not None:
        parts.append(f"perceptual hashes {hash_distance:.0f} of 64 bits apart")
    if copy_similarity is not None:
        parts.append(f"copy-detection similarity {copy_similarity:.2f}")
    if semantic_similarity is not None:
        parts.append(f"CLIP similarity {semantic_similarity:.2f}")
    if shared_objects:
        parts.append("both show " + ", ".join(shared_objects))
    return "; ".join(parts)
