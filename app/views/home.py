"""Home page per role: the patient search box for roles that find patients, then the cards
(a few numbers and lists to start the day with), each a way into the screen behind it.

Cards come from a registry, like the chart sections: a capability adds its own with
register_home_card() from its views module, without editing this one. Each card names
the permission it needs; its loader returns None to stay hidden. Loaders run on every
home page, so they must stay cheap: indexed counts over today's (or this month's) rows.
"""
from dataclasses import dataclass

from flask import g, redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_babel import format_decimal


@dataclass
class Link:
    """A way into the screen behind a card: a plain link, or a POST form (CSRF token added)
    when the target takes its filters in the request body (they never go into URLs)."""

    label: object
    url: str
    fields: dict = None  # POST these (hidden fields) instead of following a link
    primary: bool = True


@dataclass
class Card:
    key: str
    title: object
    loader: object  # loader(user, context) -> dict(value=, text=, entries=[(label, url)], links=[Link], attention=) or None
    permission: tuple = None  # (permission, view_menu)
    order: int = 100


HOME_CARDS = []


def register_home_card(key, title, loader, *, permission=None, order=100):
    """Add a home-page card shown to users holding `permission` (a (permission, view_menu) pair)."""
    HOME_CARDS[:] = [c for c in HOME_CARDS if c.key != key] + [Card(key, title, loader, permission, order)]
    HOME_CARDS.sort(key=lambda c: c.order)


def cards_for(user, sm, context):
    """[(card, data)] the user sees: permission held and the loader returned something."""
    held = sm.get_user_permissions(user)  # one query, not one per card
    out = []
    for card in HOME_CARDS:
        if card.permission and tuple(card.permission) not in held:
            continue
        data = card.loader(user, context)
        if data is not None:
            if data.get("value") is not None:
                data["value_text"] = format_decimal(data["value"], "#,##0")
            out.append((card, data))
    return out


class HomeView(IndexView):
    route_base = ""

    @expose("/")
    def index(self):
        if not g.user or not g.user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login"))
        from . import home_cards

        sm = self.appbuilder.sm
        context = home_cards.context()
        return self.render_template(
            "home.html",
            can_find=sm.has_access("can_read", "Patient"),
            can_register=sm.has_access("can_write", "Patient"),
            cards=cards_for(g.user, sm, context),
        )
