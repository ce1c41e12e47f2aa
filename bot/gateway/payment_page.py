"""The secure payment page (`GET/POST /pay/{token}`): a member adds a card or bank account.

Card and bank numbers never travel through the chat (compliance.md); the assistant sends a signed,
single-use, 15-minute link (`bot.services.payment_links`) to this page instead. Here:

1. the link is checked; an expired, used or tampered link gets a clear page (HTTP 200/410), never
   an error page;
2. the form is checked in the page (pay.js) and again on the server with `bot.services.checks`
   (Luhn, ABA routing checksum, expiry, name); a mistake re-shows the form and keeps the link;
3. only then is the link consumed (one atomic UPDATE, so a double submit cannot pass twice), the
   details are tokenized by the processor, and a `PaymentMethod` is stored with the token, kind,
   brand, last four, expiry and holder name: never the number, never the CVV. With a processor
   that offers hosted fields (`HostedFieldsProcessor`), the numbers are typed into the
   processor's own fields instead, the page posts only the processor's token, and a post that
   carries a card or bank number anyway is refused unread (`CardEntry`, docs/security.md);
4. the page emits the `method_saved` event (`bot.gateway.events`); its listener (handoff routing)
   tells the conversation "Your Visa ending 4242 is saved." and, unless an agent has it, triggers
   the assistant with `EXTERNAL_method_added` (entity `payment_method_id`) so it continues
   ("Pay $142.87 with it now?").

The request body is never logged; responses are `no-store`; the page loads only its own script.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer

from bot.core.checks import aba_routing_valid, card_brand, luhn_valid
from bot.core.dates import local_date
from bot.core.keys import Purpose, keyring
from bot.gateway.events import METHOD_SAVED, MethodSaved
from bot.gateway.state import GATEWAY, SETTINGS
from bot.services.members import method_label
from bot.services.payment_links import LinkInfo, LinkProblem, consume_link, verify_link
from bot.services.payment_processor import (
    ACCEPTED_BRANDS,
    BankToken,
    CardEntry,
    CardToken,
    HostedFields,
    HostedFieldsProcessor,
    PaymentProcessor,
    TokenizeError,
    card_entry,
)
from bot.store.db import session_scope
from bot.store.models import PaymentMethod

log = logging.getLogger(__name__)

CSRF_COOKIE = "jec_pay_csrf"

_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _digits(raw: str) -> str:
    return "".join(ch for ch in raw if ch not in " -")


@dataclass
class FormCheck:
    """Server-side checks of the submitted form; `errors` maps a field to member wording."""

    kind: str
    errors: dict[str, str] = field(default_factory=dict)


def check_form(form: Any, today: date) -> FormCheck:
    kind = str(form.get("kind") or "card")
    if kind not in ("card", "bank"):
        kind = "card"
    result = FormCheck(kind)
    if kind == "card":
        number = _digits(str(form.get("card_number") or ""))
        if not (number.isdigit() and 13 <= len(number) <= 19 and luhn_valid(number)):
            result.errors["card_number"] = "That card number doesn't look right. Please check it."
        elif card_brand(number) not in ACCEPTED_BRANDS:
            result.errors["card_number"] = (
                "We accept Visa, Mastercard, American Express and Discover."
            )
        try:
            month, year = (
                int(str(form.get("exp_month") or "")),
                int(str(form.get("exp_year") or "")),
            )
        except ValueError:
            month, year = 0, 0
        if year < 100:
            year += 2000
        if (
            not 1 <= month <= 12
            or (year, month) < (today.year, today.month)
            or year > today.year + 20
        ):
            result.errors["expiry"] = (
                "Please enter the expiry date on the card (it must not have passed)."
            )
        cvv = str(form.get("cvv") or "").strip()
        cvv_len = 4 if card_brand(number) == "American Express" else 3
        if not (cvv.isdigit() and len(cvv) == cvv_len):
            result.errors["cvv"] = f"The security code is the {cvv_len} digits on the card."
        if not str(form.get("card_name") or "").strip():
            result.errors["card_name"] = "Please enter the name on the card."
    else:
        if not aba_routing_valid(_digits(str(form.get("routing") or ""))):
            result.errors["routing"] = (
                "That routing number doesn't look right. "
                "It's the 9 digits at the bottom left of a check."
            )
        account = _digits(str(form.get("account") or ""))
        if not (account.isdigit() and 4 <= len(account) <= 17):
            result.errors["account"] = "That account number doesn't look right. Please check it."
        if str(form.get("account_type") or "") not in ("checking", "savings"):
            result.errors["account_type"] = "Please choose checking or savings."
        if not str(form.get("bank_name") or "").strip():
            result.errors["bank_name"] = "Please enter the name on the bank account."
    return result


# -- pages -----------------------------------------------------------------------------------------


# Fields that carry a card or bank number; with hosted fields none may reach this server.
NUMBER_FIELDS = ("card_number", "cvv", "routing", "account")


def _headers(hosted: HostedFields | None) -> dict[str, str]:
    if hosted is None:
        return _HEADERS
    origin = hosted.origin
    return {
        **_HEADERS,
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' {origin}; frame-src {origin}; "
            f"connect-src 'self' {origin}; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
    }


def _page(
    title: str, body: str, status: int = 200, hosted: HostedFields | None = None
) -> web.Response:
    processor_script = (
        f'  <script src="{e(hosted.script_url)}" defer></script>\n' if hosted is not None else ""
    )
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>{e(title)} - Jefferson Energy Cooperative</title>
  <link rel="stylesheet" href="/static/pay/pay.css">
</head>
<body>
  <header class="top"><div class="wrap">
    <span class="brand">Secure payment page</span>
  </div></header>
  <main class="wrap" id="main">
{body}
  </main>
{processor_script}  <script src="/static/pay/pay.js" defer></script>
</body>
</html>"""
    return web.Response(
        text=html, status=status, content_type="text/html", headers=_headers(hosted)
    )


def problem_page(problem: LinkProblem) -> web.Response:
    titles = {
        "expired": "This link has expired",
        "used": "This link was already used",
        "invalid": "This link isn't valid",
    }
    body = f"""
    <h1>{e(titles[problem.reason])}</h1>
    <p class="problem" role="alert">{e(problem.message)}</p>
    <p>Nothing was saved. You can close this page and go back to the chat or text
       conversation.</p>"""
    return _page(titles[problem.reason], body, status=410 if problem.reason != "invalid" else 404)


def _error(errors: dict[str, str], name: str) -> str:
    msg = errors.get(name)
    return (
        f'<p class="field-error" id="{name}-error">{e(msg)}</p>'
        if msg
        else f'<p class="field-error" id="{name}-error" hidden></p>'
    )


def _invalid(errors: dict[str, str], name: str) -> str:
    return (
        f' aria-invalid="true" aria-describedby="{name}-error"'
        if name in errors
        else f' aria-describedby="{name}-error"'
    )


def _selected(form: Any, name: str, value: int) -> str:
    return " selected" if str(form.get(name, "")) == str(value) else ""


def form_page(
    token: str,
    csrf: str,
    account_label: str,
    today: date,
    *,
    check: FormCheck | None = None,
    form: Any = None,
    problem: str | None = None,
) -> web.Response:
    errors = check.errors if check else {}
    kind = check.kind if check else "card"
    form = form or {}
    summary = ""
    if errors:
        items = "".join(
            f'<li><a href="#{k if k != "expiry" else "exp_month"}">{e(v)}</a></li>'
            for k, v in errors.items()
        )
        summary = (
            '<div class="error-summary" role="alert" tabindex="-1" id="error-summary">'
            f"<h2>Please check</h2><ul>{items}</ul></div>"
        )
    if problem:
        summary = (
            f'<div class="error-summary" role="alert" id="error-summary"><p>{e(problem)}</p></div>'
        )
    months = "".join(
        f'<option value="{m}"{_selected(form, "exp_month", m)}>{m:02d}</option>'
        for m in range(1, 13)
    )
    years = "".join(
        f'<option value="{y}"{_selected(form, "exp_year", y)}>{y}</option>'
        for y in range(today.year, today.year + 12)
    )
    checked_card = " checked" if kind == "card" else ""
    checked_bank = " checked" if kind == "bank" else ""
    acct_type = str(form.get("account_type") or "checking")
    checked_checking = " checked" if acct_type == "checking" else ""
    checked_savings = " checked" if acct_type == "savings" else ""
    routing = form.get("routing", "") if kind == "bank" else ""
    body = f"""
    <h1>Add a card or bank account</h1>
    <p>For {e(account_label)}. Your details go over an encrypted connection to the co-op's secure
       server, which hands them at once to our payment processor and keeps only the last four
       digits. This page works once and for 15 minutes.</p>
    {summary}
    <form method="post" action="/pay/{e(token)}" id="pay-form" novalidate autocomplete="on">
      <input type="hidden" name="csrf" value="{e(csrf)}">
      <fieldset class="kind"><legend>What would you like to add?</legend>
        <label><input type="radio" name="kind" value="card"{checked_card}>
          Debit or credit card</label>
        <label><input type="radio" name="kind" value="bank"{checked_bank}> Bank account</label>
      </fieldset>
      <fieldset id="card-fields" data-kind="card"><legend>Card</legend>
        <label for="card_number">Card number</label>
        <input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number"
          maxlength="23"{_invalid(errors, "card_number")}>
        {_error(errors, "card_number")}
        <div class="row">
          <div><label for="exp_month">Expiry month</label>
            <select id="exp_month" name="exp_month" autocomplete="cc-exp-month"
              {_invalid(errors, "expiry")}><option value="">MM</option>{months}</select></div>
          <div><label for="exp_year">Expiry year</label>
            <select id="exp_year" name="exp_year" autocomplete="cc-exp-year"
              {_invalid(errors, "expiry")}><option value="">YYYY</option>{years}</select></div>
        </div>
        {_error(errors, "expiry")}
        <label for="cvv">Security code (CVV)</label>
        <input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" maxlength="4"
          class="short"{_invalid(errors, "cvv")}>
        {_error(errors, "cvv")}
        <label for="card_name">Name on the card</label>
        <input id="card_name" name="card_name" autocomplete="cc-name" maxlength="120"
          value="{e(form.get("card_name", ""))}"{_invalid(errors, "card_name")}>
        {_error(errors, "card_name")}
      </fieldset>
      <fieldset id="bank-fields" data-kind="bank"><legend>Bank account</legend>
        <label for="routing">Routing number (9 digits)</label>
        <input id="routing" name="routing" inputmode="numeric" maxlength="9"
          value="{e(routing)}"{_invalid(errors, "routing")}>
        {_error(errors, "routing")}
        <label for="account">Account number</label>
        <input id="account" name="account" inputmode="numeric" maxlength="17" autocomplete="off"
          {_invalid(errors, "account")}>
        {_error(errors, "account")}
        <fieldset class="kind"><legend>Account type</legend>
          <label><input type="radio" name="account_type" value="checking"{checked_checking}>
            Checking</label>
          <label><input type="radio" name="account_type" value="savings"{checked_savings}>
            Savings</label>
        </fieldset>
        {_error(errors, "account_type")}
        <label for="bank_name">Name on the account</label>
        <input id="bank_name" name="bank_name" maxlength="120"
          value="{e(form.get("bank_name", ""))}"{_invalid(errors, "bank_name")}>
        {_error(errors, "bank_name")}
      </fieldset>
      <button type="submit">Save securely</button>
    </form>"""
    return _page("Add a payment method", body, status=400 if errors else 200)


def hosted_form_page(
    token: str, csrf: str, account_label: str, hosted: HostedFields, kind: str = "card"
) -> web.Response:
    """The page for a processor with hosted fields: the numbers are typed into the processor's
    frames (drawn by its script in `#hosted-fields`); this page posts only its token."""
    checked_card = " checked" if kind != "bank" else ""
    checked_bank = " checked" if kind == "bank" else ""
    body = f"""
    <h1>Add a card or bank account</h1>
    <p>For {e(account_label)}. You type your details into our payment processor's secure fields
       below; they go straight to the processor, the co-op never sees them, and we keep only the
       last four digits. This page works once and for 15 minutes.</p>
    <div class="error-summary" role="alert" id="error-summary" hidden></div>
    <form method="post" action="/pay/{e(token)}" id="pay-form" data-mode="hosted" novalidate>
      <input type="hidden" name="csrf" value="{e(csrf)}">
      <input type="hidden" name="payment_token" value="">
      <fieldset class="kind"><legend>What would you like to add?</legend>
        <label><input type="radio" name="kind" value="card"{checked_card}>
          Debit or credit card</label>
        <label><input type="radio" name="kind" value="bank"{checked_bank}> Bank account</label>
      </fieldset>
      <div id="hosted-fields" data-key="{e(hosted.publishable_key)}"></div>
      <button type="submit">Save securely</button>
    </form>"""
    return _page("Add a payment method", body, hosted=hosted)


def saved_page(label: str, channel: str) -> web.Response:
    back = (
        '<p><a href="/#chat">Back to the chat</a></p>'
        if channel == "web"
        else "<p>You can close this page; we've texted you to continue.</p>"
    )
    body = f"""
    <h1>Saved</h1>
    <p class="success" role="status">Your {e(label)} is saved.</p>
    <p>We kept only the last four digits. The assistant will continue in your conversation.</p>
    {back}"""
    return _page("Saved", body)


# -- CSRF (double submit: a signed cookie and the same value in the form) --------------------------


def _csrf_serializer(request: web.Request) -> URLSafeSerializer:
    keys = keyring(request.app[SETTINGS].secret_key, Purpose.PAYMENT_LINKS)
    return URLSafeSerializer(keys, salt="jec-pay-csrf")


def _issue_csrf(request: web.Request, response: web.StreamResponse, token: str) -> None:
    value = _csrf_serializer(request).dumps({"v": token})
    response.set_cookie(
        CSRF_COOKIE,
        value,
        path="/pay",
        httponly=True,
        samesite="Strict",
        max_age=1800,
        secure=request.app[SETTINGS].public_base_url.lower().startswith("https://"),
    )


def _csrf_ok(request: web.Request, submitted: object) -> bool:
    raw = request.cookies.get(CSRF_COOKIE)
    if not raw or not isinstance(submitted, str) or not submitted:
        return False
    try:
        data = _csrf_serializer(request).loads(raw)
    except BadSignature:
        return False
    expected = data.get("v") if isinstance(data, dict) else None
    return isinstance(expected, str) and hmac.compare_digest(expected, submitted)


# -- handlers --------------------------------------------------------------------------------------


async def _account_label(request: web.Request, link: LinkInfo) -> str:
    account = await request.app[GATEWAY].members.account(link.account_id)
    return f"account ending {account.last4}" if account else "your account"


async def show(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    token = request.match_info["token"]
    try:
        link = await verify_link(gw.sessions, gw.settings.secret_key, token, now=gw.clock())
    except LinkProblem as problem:
        return problem_page(problem)
    csrf = secrets.token_urlsafe(24)
    processor = gw.processor
    if isinstance(processor, HostedFieldsProcessor):
        response = hosted_form_page(
            token, csrf, await _account_label(request, link), processor.hosted_fields()
        )
    else:
        response = form_page(
            token,
            csrf,
            await _account_label(request, link),
            local_date(gw.clock(), gw.profile.timezone),
        )
    _issue_csrf(request, response, csrf)
    return response


async def submit(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    token = request.match_info["token"]
    form = await request.post()  # never logged: it holds the card or bank number
    if not _csrf_ok(request, form.get("csrf")):
        body = (
            '<h1>Please try again</h1><p role="alert">'
            "This form expired or came from somewhere else. "
            f'Nothing was saved. <a href="/pay/{e(token)}">Open the form again</a>.</p>'
        )
        return _page("Please try again", body, status=403)
    now = gw.clock()
    today = local_date(now, gw.profile.timezone)
    try:
        link = await verify_link(gw.sessions, gw.settings.secret_key, token, now=now)
    except LinkProblem as problem:
        return problem_page(problem)
    if card_entry(gw.processor) is CardEntry.HOSTED_FIELDS:
        return await _submit_hosted(request, token, form, now)
    check = check_form(form, today)
    if check.errors:
        safe_form = {
            k: form.get(k, "")
            for k in ("exp_month", "exp_year", "card_name", "routing", "account_type", "bank_name")
        }
        response = form_page(
            token,
            str(form.get("csrf")),
            await _account_label(request, link),
            today,
            check=check,
            form=safe_form,
        )
        _issue_csrf(request, response, str(form.get("csrf")))
        return response
    try:
        link = await consume_link(gw.sessions, gw.settings.secret_key, token, now=now)
    except LinkProblem as problem:
        return problem_page(problem)
    processor = gw.processor
    try:
        method = await _tokenize_and_store(
            processor, gw.sessions, link, check.kind, form, today, now
        )
    except TokenizeError as exc:
        return _not_saved(exc)
    return await _saved(gw, link, method)


def _not_saved(exc: TokenizeError) -> web.Response:
    body = (
        f'<h1>We couldn\'t save that</h1><p role="alert">{e(str(exc))}</p>'
        "<p>For your security this link has now been used. "
        "Please ask the assistant for a new one.</p>"
    )
    return _page("Not saved", body, status=422)


async def _submit_hosted(request: web.Request, token: str, form: Any, now: Any) -> web.Response:
    """A post from the hosted-fields page: only the processor's token, never a number."""
    gw = request.app[GATEWAY]
    processor = gw.processor
    assert isinstance(processor, HostedFieldsProcessor)
    if any(form.get(name) for name in NUMBER_FIELDS):
        log.warning("a card or bank number was posted to the hosted-fields page; refused unread")
        body = (
            '<h1>Not saved</h1><p role="alert">This page takes your details only in the secure '
            "fields of our payment processor. Nothing was saved; please open the link again.</p>"
        )
        return _page("Not saved", body, status=400, hosted=processor.hosted_fields())
    payment_token = str(form.get("payment_token") or "").strip()
    kind = "bank" if form.get("kind") == "bank" else "card"
    if not payment_token or len(payment_token) > 255:
        try:
            link = await verify_link(gw.sessions, gw.settings.secret_key, token, now=now)
        except LinkProblem as problem:
            return problem_page(problem)
        return hosted_form_page(
            token,
            str(form.get("csrf")),
            await _account_label(request, link),
            processor.hosted_fields(),
            kind,
        )
    try:
        link = await consume_link(gw.sessions, gw.settings.secret_key, token, now=now)
    except LinkProblem as problem:
        return problem_page(problem)
    try:
        details = await processor.retrieve_method(token=payment_token, kind=kind)
        method = await _store(gw.sessions, link, details, now)
    except TokenizeError as exc:
        return _not_saved(exc)
    return await _saved(gw, link, method)


async def _saved(gw: Any, link: LinkInfo, method: PaymentMethod) -> web.Response:
    label = method_label(method.kind, method.brand, method.last4)
    conv = await gw.store.get(link.conversation_id)
    if conv is not None:  # the conversation hears of it after this page has answered
        gw.tasks.spawn(
            gw.events.emit(METHOD_SAVED, MethodSaved(conv, label, method.id)),
            name=f"pay-added-{conv.id}",
        )
    log.info(
        "payment method %s added for member %s through the secure page", method.id, link.member_id
    )
    return saved_page(label, conv.channel if conv else "web")


async def _tokenize_and_store(
    processor: PaymentProcessor,
    factory: Any,
    link: LinkInfo,
    kind: str,
    form: Any,
    today: date,
    now: Any,
) -> PaymentMethod:
    details: CardToken | BankToken
    if kind == "card":
        year = int(str(form.get("exp_year")))
        details = await processor.tokenize_card(
            number=str(form.get("card_number") or ""),
            exp_month=int(str(form.get("exp_month"))),
            exp_year=year + 2000 if year < 100 else year,
            cvv=str(form.get("cvv") or "").strip(),
            name=str(form.get("card_name") or ""),
            today=today,
        )
    else:
        details = await processor.tokenize_bank(
            routing=str(form.get("routing") or ""),
            account=str(form.get("account") or ""),
            kind=str(form.get("account_type") or ""),
            name=str(form.get("bank_name") or ""),
        )
    return await _store(factory, link, details, now)


async def _store(
    factory: Any, link: LinkInfo, details: CardToken | BankToken, now: Any
) -> PaymentMethod:
    """Keep what the processor returned: the token, kind, brand, last four, expiry and name."""
    if isinstance(details, CardToken):
        kind: str = "card"
        expiry: dict[str, Any] = {"exp_month": details.exp_month, "exp_year": details.exp_year}
    else:
        kind, expiry = details.kind, {}
    row = PaymentMethod(
        member_id=link.member_id,
        token=details.token,
        kind=kind,
        brand=details.brand,
        last4=details.last4,
        holder_name=details.holder_name,
        is_active=True,
        created_at=now,
        **expiry,
    )
    async with session_scope(factory) as session:
        session.add(row)
        await session.flush()
    return row


def setup_payment_page(app: web.Application) -> None:
    app.router.add_get("/pay/{token}", show, name="pay")
    app.router.add_post("/pay/{token}", submit)
