"""The context pack as prompt text, the same for every language's pack (Python's in
``context_pack``, the others' in ``crossfile``): titled sections cut to a budget."""

from __future__ import annotations


def render_sections(sections: list[tuple[str, list[str]]], budget: int) -> str:
    """The pack's text: each section's entries in order (duplicates once) until ``budget``
    characters are used; a section left empty is not shown. Every language's pack."""
    out: list[str] = []
    used = 0
    for title, items in sections:
        kept: list[str] = []
        for item in dict.fromkeys(items):
            if used + len(item) + 1 > budget:
                break
            kept.append(item)
            used += len(item) + 1
        if kept:
            out.append(f"{title}:\n" + "\n".join(kept))
    return "\n".join(out)
