"""Small template helpers for the site's pages."""

from django import template

register = template.Library()


@register.filter
def get_stars(stars: dict, title_id) -> int:
    """The member's stars for a title (0: not rated)."""
    return (stars or {}).get(title_id, 0)
