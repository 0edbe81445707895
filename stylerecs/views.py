"""Storefront pages: For you, the style quiz, my style, my data, and the event endpoint.

Views read through selectors and write through services; no scoring happens in a
request (the workers rewrite Recommendations after events). Templates extend
``stylerecs/base.html``, which extends the host's ``base.html``: a host restyles the
pages by overriding either.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import selectors
from .api.throttles import EventRateThrottle
from .assignment import running_experiment, treatment_for
from .conf import get_adapter, stylerecs_settings
from .forms import EventForm, PreferencesForm, QuizForm
from .models import Style, Surface
from .pictures import picture_sets
from .services import preferences as preference_services
from .services import privacy as privacy_services
from .services.events import interaction_record
from .services.experiments import impressions_log
from .shoppers import shopper_from_request

FOR_YOU_LIMIT = 24
# Cards loaded without waiting for a scroll (about one row on a desktop).
EAGER_CARDS = 4


def _wants_json(request) -> bool:
    """A fetch() from our script asks for JSON; a plain form POST prefers HTML."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _back(request, fallback: str) -> str:
    """Where a form came from (``next``), if it is on this site; else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _cards(rows: list[dict], style) -> list[dict]:
    """Rows of recommendations with what a card shows.

    A card leads with the product in the shopper's top style only where the product
    suits that style (its style profile's affinity is above
    ``FOR_YOU_STYLE_MIN_AFFINITY``): a style that makes a product muddy would sell it
    worse than its own photo. Products without a profile show their own photo.
    """
    styled = {}
    if style is not None:
        ids = [r["product"].pk for r in rows]
        floor = float(stylerecs_settings.FOR_YOU_STYLE_MIN_AFFINITY)
        suits = {
            pk
            for pk, affinity in selectors.style_affinities(product_ids=ids, style=style).items()
            if affinity > floor
        }
        styled = selectors.approved_variants_in_style(product_ids=suits, style=style)
    adapter = get_adapter()
    photos = {row["product"].pk: adapter.image_file(row["product"]) for row in rows}
    renditions = picture_sets(
        names=[photo.name for photo in photos.values() if photo]
        + [variant.image.name for variant in styled.values()]
    )
    cards = []
    for index, row in enumerate(rows):
        product = row["product"]
        image = photos[product.pk]
        cards.append(
            {
                **row,
                "title": adapter.title(product),
                "url": adapter.url(product),
                "price": adapter.price(product),
                "price_display": adapter.price_display(product),
                "available": adapter.is_available(product),
                "image": image.url if image else "",
                "photo": image,
                "variant": styled.get(product.pk),
                "renditions": renditions,
                # The first row is above the fold: load it at once, the first card first.
                "lazy": index >= EAGER_CARDS,
                "priority": index == 0,
            }
        )
    return cards


def _refreshes_so_far(request) -> int:
    try:
        return max(0, int(request.GET.get("waiting", 0)))
    except ValueError:
        return 0


def for_you(request):
    """The shopper's stored recommendations with their reasons; popular ones when none.

    While the workers are rescoring the shopper (after the quiz, a like, a new
    preference), the page reloads itself every ``FOR_YOU_REFRESH_SECONDS`` until the new
    recommendations are there, at most ``FOR_YOU_REFRESH_MAX`` times (a worker that is
    down must not make the page reload forever). A plain meta refresh: no script needed.
    The experiment arm decides the ranking and whether cards show the shopper's style;
    the cards shown are logged as impressions (one INSERT).
    """
    # A visitor needs an id to be assigned an arm; without an experiment, none is made.
    shopper = shopper_from_request(request, create=running_experiment() is not None)
    enabled = shopper is None or preference_services.personalisation_enabled(shopper=shopper)
    treatment = treatment_for(shopper=shopper, personalise=enabled)
    rows = selectors.recommendations_for(shopper=shopper, limit=FOR_YOU_LIMIT, treatment=treatment)
    personalised = any(row["personalised"] for row in rows)
    top_style = selectors.top_style_for(shopper=shopper) if shopper and enabled else None
    if not treatment.shows_style(top_style):
        top_style = None
    pending = enabled and selectors.recommendations_pending(shopper=shopper)
    waiting = _refreshes_so_far(request)
    refresh = pending and waiting < int(stylerecs_settings.FOR_YOU_REFRESH_MAX)
    cards = _cards(rows, top_style)
    impressions_log(
        shopper=shopper,
        surface=Surface.FOR_YOU,
        items=[(card["product"].pk, card["variant"] and card["variant"].pk) for card in cards],
        treatment=treatment,
    )
    return render(
        request,
        "stylerecs/for_you.html",
        {
            "cards": cards,
            "personalised": personalised,
            "personalisation_enabled": enabled,
            "top_style": top_style,
            "pending": pending,
            "refresh": refresh,
            "refresh_seconds": int(stylerecs_settings.FOR_YOU_REFRESH_SECONDS),
            "next_waiting": waiting + 1,
        },
    )


def quiz(request):
    """The style quiz: the same products in different styles; the picks teach us taste."""
    rounds = selectors.quiz_rounds()
    if request.method == "POST":
        form = QuizForm(request.POST, rounds=rounds)
        if form.is_valid():
            shopper = shopper_from_request(request)
            weights = preference_services.quiz_record(
                shopper=shopper,
                picked_variant_ids=form.picked_variant_ids(),
                shown_variant_ids=form.shown_variant_ids(),
            )
            liked = Style.objects.filter(pk__in=[pk for pk, w in weights.items() if w > 0])
            names = ", ".join(style.name for style in liked) or "no style in particular"
            messages.success(
                request,
                f"Thanks! Your style: {names}. Your picks are being scored; "
                "this page fills in with them in a moment.",
            )
            return redirect("stylerecs:for_you")
    else:
        form = QuizForm(rounds=rounds)
        shopper = shopper_from_request(request, create=running_experiment() is not None)
        impressions_log(
            shopper=shopper,
            surface=Surface.QUIZ,
            items=[
                (product.pk, variant.pk) for product, variants in rounds for variant in variants
            ],
            treatment=treatment_for(shopper=shopper),
        )
    names = [variant.image.name for _, variants in rounds for variant in variants]
    renditions = picture_sets(names=names)
    return render(
        request,
        "stylerecs/quiz.html",
        {"form": form, "rounds": form.rounds_for_template(), "renditions": renditions},
    )


def my_style(request):
    """Edit explicit style preferences directly: one slider per active style."""
    styles = list(Style.objects.filter(is_active=True).order_by("name"))
    shopper = shopper_from_request(request, create=request.method == "POST")
    current = preference_services.preferences_get(shopper=shopper) if shopper else {}
    if request.method == "POST":
        form = PreferencesForm(request.POST, styles=styles, initial_weights=current)
        if form.is_valid():
            preference_services.preferences_set(shopper=shopper, weights=form.weights())
            messages.success(request, "Saved. Your recommendations are being updated.")
            return redirect("stylerecs:my_style")
    else:
        form = PreferencesForm(styles=styles, initial_weights=current)
    return render(request, "stylerecs/my_style.html", {"form": form, "rows": form.rows()})


def my_data(request):
    """Privacy: turn personalisation off or on, download your data, delete it."""
    shopper = shopper_from_request(request, create=False)
    export = privacy_services.shopper_export(shopper=shopper) if shopper else {}
    counts = {
        key: len(export.get(key) or [])
        for key in ("preferences", "interactions", "recommendations")
    }
    enabled = shopper is None or preference_services.personalisation_enabled(shopper=shopper)
    return render(
        request,
        "stylerecs/my_data.html",
        {"counts": counts, "personalisation_enabled": enabled, "has_data": any(counts.values())},
    )


@require_POST
def personalisation(request):
    """Turn personalisation on or off (a form POST from "my data")."""
    enabled = request.POST.get("enabled") == "1"
    preference_services.personalisation_set(shopper=shopper_from_request(request), enabled=enabled)
    messages.success(
        request,
        "Personalisation is on." if enabled else "Personalisation is off: everyone's picks now.",
    )
    return redirect(_back(request, "stylerecs:my_data"))


@require_GET
def my_data_export(request):
    """Everything stylerecs keeps about the shopper, as a JSON file."""
    shopper = shopper_from_request(request, create=False)
    data = privacy_services.shopper_export(shopper=shopper) if shopper else {}
    response = HttpResponse(
        json.dumps(data, indent=2, default=str), content_type="application/json"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-style-data-{stamp}.json"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def my_data_delete(request):
    """Delete the shopper's preferences, events, recommendations and settings."""
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you want your data deleted.")
        return redirect("stylerecs:my_data")
    shopper = shopper_from_request(request, create=False)
    deleted = privacy_services.shopper_delete(shopper=shopper) if shopper else {}
    messages.success(request, f"Deleted {sum(deleted.values())} records about you.")
    return redirect("stylerecs:my_data")


def _throttled(request, wait: float | None) -> HttpResponse:
    seconds = max(1, round(wait or 60))
    message = f"You're going a little fast. Please try again in {seconds} seconds."
    if _wants_json(request):
        response = JsonResponse({"ok": False, "detail": message}, status=429)
    else:
        response = render(request, "stylerecs/throttled.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@require_POST
def event(request):
    """Like or dislike a product: JSON for fetch(), a redirect back for a plain form.

    Throttled per user (or per address when anonymous) so that a script cannot bury a
    product in dislikes; recording is one INSERT and schedules rescoring on a worker.
    """
    throttle = EventRateThrottle()
    if not throttle.allow_request(request, None):
        return _throttled(request, throttle.wait())
    form = EventForm(request.POST)
    if not form.is_valid():
        if _wants_json(request):
            return JsonResponse({"ok": False, "errors": form.errors}, status=400)
        return HttpResponseBadRequest("This event could not be recorded.")
    product, kind = form.cleaned_data["product"], form.cleaned_data["kind"]
    variant = form.cleaned_data.get("variant")
    interaction_record(
        shopper=shopper_from_request(request),
        product_id=product.pk,
        kind=kind,
        variant_id=variant.pk if variant else None,
    )
    message = form.thanks()
    if _wants_json(request):
        return JsonResponse({"ok": True, "kind": kind, "product": product.pk, "message": message})
    messages.success(request, message)
    return redirect(_back(request, get_adapter().url(product)))
