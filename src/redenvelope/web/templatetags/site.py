"""Small template helpers for the site's pages."""

from django import template

register = template.Library()


@register.filter
def get_stars(stars: dict, title_id) -> int:
    """The member's stars for a title (0: not rated)."""
    return (stars or {}).get(title_id, 0)


@register.simple_tag(takes_context=True)
def stars_form(context, title, where: str = "title") -> str:
    """A title's rating form: five star buttons (each saying what it does to a screen reader,
    the member's stars shown) and Clear when rated, posting to the rate view (htmx swaps the
    form in place). One tag, not a template per row: a queue or history page has one per
    title. `stars` in the context holds the member's stars by title id."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    tid = int(title.pk)
    name = escape(title.name)
    mine = int((context.get("stars") or {}).get(tid, 0))
    url = escape(context["row_urls"]["rate"])
    request = context.get("request")
    back = escape(request.get_full_path()) if request is not None else ""
    token = escape(str(context.get("csrf_token", "")))
    buttons = []
    for n in range(1, 6):
        on = " on" if n <= mine else ""
        pressed = "true" if n == mine else "false"
        buttons.append(
            f'<button type="submit" name="stars" value="{n}" class="star{on}" '
            f'aria-label="Rate {name} {n} star{"s" if n != 1 else ""}" '
            f'aria-pressed="{pressed}">★</button>'
        )
    if mine:
        buttons.append(
            f'<span class="meta">You gave it {mine}.</span> <button type="submit" '
            f'name="stars" value="clear" class="link" aria-label="Clear your rating of {name}">'
            "Clear</button>"
        )
    html = (
        f'<form method="post" action="{url}" hx-post="{url}" hx-target="#stars-{tid}" '
        f'hx-swap="outerHTML"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        f'<input type="hidden" name="title" value="{tid}"><input type="hidden" name="from" '
        f'value="{escape(where)}"><input type="hidden" name="back" value="{back}"><fieldset>'
        f'<legend class="visually-hidden">Your rating of {name}</legend>{"".join(buttons)}'
        "</fieldset></form>"
    )
    return mark_safe(html)  # noqa: S308 (every value above is escaped or ours)


@register.filter
def gap_percent(value) -> str:
    """A certified gap (a share) as a percentage with three decimals: 0.00123 -> "0.123%"."""
    try:
        return f"{100 * float(value):.3f}%"
    except (TypeError, ValueError):
        return "–"


@register.filter
def cents(value) -> str:
    """Integer cents as dollars: 2000 -> $20.00 (-150 -> -$1.50)."""
    from redenvelope.ledger.money import from_cents

    try:
        n = int(value or 0)
    except (TypeError, ValueError):
        return ""
    return ("-" if n < 0 else "") + f"${from_cents(abs(n)):,.2f}"
