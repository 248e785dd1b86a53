"""Small template helpers for the site's pages."""

from django import template

register = template.Library()


@register.filter
def get_stars(stars: dict, title_id) -> int:
    """The member's stars for a title (0: not rated)."""
    return (stars or {}).get(title_id, 0)


@register.simple_tag
def star_buttons(title, mine: int) -> str:
    """The five star buttons of a rating form (one tag, not a template loop: a queue page has a
    form per title). Each says what it does to a screen reader and shows the member's stars."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    name = escape(title.name)
    mine = int(mine or 0)
    out = []
    for n in range(1, 6):
        on = " on" if n <= mine else ""
        pressed = "true" if n == mine else "false"
        label = f"Rate {name} {n} star{'s' if n != 1 else ''}"
        out.append(
            f'<button type="submit" name="stars" value="{n}" class="star{on}" '
            f'aria-label="{label}" aria-pressed="{pressed}">★</button>'
        )
    return mark_safe("".join(out))  # noqa: S308 (every value above is escaped or ours)
