"""The SMS channel: Twilio's inbound webhook and its delivery status callback.

Order of work for an inbound text (compliance.md): signature (403 and nothing else when bad),
MessageSid claimed once (a retry gets empty TwiML), sender normalised to E.164, keywords
(STOP/START/HELP) before anything else, opted-out numbers get nothing, then the message is
masked and stored with its bot turn in one unit of work, a numbered reply picks the last
choices, and Twilio gets empty TwiML at once (keyword answers and gateway notices may ride in
it). The turn runs from the durable queue (`bot.gateway.queue_worker`); its replies go out
through the notifier (Twilio's REST API, or the local outbox).

At the edge (`bot.gateway.edge`): the body is cleaned (valid Unicode, no controls) and capped at
`MESSAGE_MAX_CHARS` (Twilio's 1,600) with a note; an empty body is not forwarded, a picture
without text gets "I can only read text"; a phone over its text budget, or with too many texts
still waiting for the assistant, is told to slow down (the text is stored, not forwarded).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from bot.adapters.delivery import record_provider_status
from bot.core.phones import normalize_phone
from bot.gateway import still_out
from bot.gateway.conversations import ConversationInfo, TurnSpec
from bot.gateway.edge import EDGE, clean_text
from bot.gateway.keywords import Keyword, classify, is_still_out
from bot.gateway.ratelimits import SLOW_DOWN, STILL_WORKING
from bot.gateway.signatures import public_url, signature_valid
from bot.gateway.sms_format import pick_choice, render_sms
from bot.gateway.state import GATEWAY, Gateway
from bot.gateway.turns import as_bot_message
from bot.store.db import session_scope

log = logging.getLogger(__name__)

OPT_OUT_ERROR_CODE = "21610"
MEDIA_ONLY = (
    "I can only read text, so I couldn't see the picture or file you sent. Please type your "
    "question instead."
)


def twiml(bodies: list[str]) -> web.Response:
    response = MessagingResponse()
    for body in bodies:
        response.message(body)
    return web.Response(text=str(response), content_type="application/xml")


async def _verified_form(request: web.Request) -> Any | None:
    form = await request.post()
    gw = request.app[GATEWAY]
    url = public_url(gw.settings, request.path_qs)
    if not signature_valid(gw.settings, url, form, request.headers.get("X-Twilio-Signature")):
        log.warning("rejected a Twilio webhook with a bad or missing signature (%s)", request.path)
        return None
    return form


async def inbound(request: web.Request) -> web.Response:
    form = await _verified_form(request)
    if form is None:
        return web.Response(status=403, text="invalid signature")
    gw = request.app[GATEWAY]
    edge = request.app[EDGE]
    sid = clean_text(str(form.get("MessageSid") or form.get("SmsSid") or "")).strip()[:64]
    phone = normalize_phone(clean_text(str(form.get("From") or "")).strip(), strict=False)
    body = clean_text(str(form.get("Body") or ""))
    num_media = str(form.get("NumMedia") or "0").strip()
    has_media = num_media.isdigit() and int(num_media) > 0
    if not sid or not phone:
        return web.Response(status=400, text="MessageSid and a valid From are required")
    received = await gw.sms_store.receive(sid, phone)  # sid, conversation, opt-out, waiting
    if received is None:
        return twiml([])  # Twilio retrying a message already taken
    conv, opted_out = received.conversation, received.opted_out

    keyword = classify(body, opted_out=opted_out)
    if keyword is not None:
        await gw.sms_store.set_inbound_status(sid, "keyword")
        return await _keyword(gw, conv, phone, body, keyword, edge.max_chars)
    if opted_out:  # stored (masked) for the record; nothing is sent back
        if body.strip():
            await gw.service.accept_member_message(
                conv, body, notify_masking=False, max_chars=edge.max_chars
            )
        await gw.sms_store.set_inbound_status(sid, "opted_out")
        return twiml([])
    if is_still_out(body) and (
        out := await still_out.handle(gw, conv, phone, body, edge.max_chars)
    ):
        await gw.sms_store.set_inbound_status(sid, "keyword")  # OUT after a restore text
        return twiml(out)
    if not body.strip():  # nothing to read: not forwarded to the assistant
        await gw.sms_store.set_inbound_status(sid, "media_only" if has_media else "empty")
        return twiml(await _system_reply(gw, conv, MEDIA_ONLY) if has_media else [])

    choice = pick_choice(body, conv.last_buttons)
    payload = {"choice": choice} if choice else None
    turn: TurnSpec | None = None
    refusal: str | None = None
    if conv.mode == "bot":
        within_budget = await edge.limits.text(phone)
        if received.pending >= edge.limits.max_pending:
            refusal = STILL_WORKING  # that many of its texts still wait for the assistant
        elif not within_budget:
            refusal = SLOW_DOWN
        else:
            from_button = bool(choice and choice.get("payload"))
            turn = TurnSpec(
                key=f"sms:{sid}",
                metadata={"channel": "sms", "phone": phone},
                rasa_text=choice["payload"] if choice and from_button else None,
                from_button=from_button,
                sms_sid=sid,
            )
    # One unit of work: the message, its turn (durable before Twilio hears back), the sid's status.
    accepted = await gw.service.accept_member_message(
        conv, body, payload=payload, max_chars=edge.max_chars, turn=turn, client_id=f"sms:{sid}"
    )
    now_texts = [t for n in accepted.notices for t in render_sms([as_bot_message(n)])]
    if has_media:
        now_texts += await _system_reply(gw, conv, MEDIA_ONLY)
    if refusal is not None:
        log.warning("a text from %s was not forwarded: too many", conv.id)
        await gw.sms_store.set_inbound_status(sid, "rate_limited")
        now_texts += await _system_reply(gw, conv, refusal)
    elif turn is None:  # with an agent (or queued for one): stored for the console
        await gw.sms_store.set_inbound_status(sid, "processed")
    elif gw.workers is not None:
        await gw.workers.submit(conv.id, turn.key)  # the replies go out through the notifier
    await gw.store.mark_delivered(conv.id, [n.seq for n in accepted.notices])
    return twiml(now_texts)


async def _system_reply(gw: Gateway, conv: ConversationInfo, text: str) -> list[str]:
    """Store and publish a gateway notice answered in the TwiML; returns its texts."""
    message, _ = await gw.store.append(
        conv.id, direction="out", sender="system", text=text, delivered=True
    )
    gw.hub.publish(conv.id, message.to_wire())
    return render_sms([{"text": text}])


async def _keyword(
    gw: Gateway, conv: ConversationInfo, phone: str, body: str, keyword: Keyword, max_chars: int
) -> web.Response:
    await gw.service.accept_member_message(conv, body, notify_masking=False, max_chars=max_chars)
    if keyword is Keyword.OPT_OUT:
        changed = await gw.sms_store.set_opted_out(
            phone, True, f"keyword:{body.strip().upper()[:20]}"
        )
        reply = gw.texts.sms_opted_out if changed else None  # one confirmation, never more
    elif keyword is Keyword.OPT_IN:
        await gw.sms_store.set_opted_out(phone, False, f"keyword:{body.strip().upper()[:20]}")
        reply = gw.texts.sms_opted_in
    else:
        reply = gw.texts.sms_help  # HELP is answered even when opted out (CTIA)
    if reply is None:
        return twiml([])
    message, _ = await gw.store.append(
        conv.id, direction="out", sender="system", text=reply, delivered=True
    )
    gw.hub.publish(conv.id, message.to_wire())
    return twiml(render_sms([{"text": reply}]))


async def status_callback(request: web.Request) -> web.Response:
    form = await _verified_form(request)
    if form is None:
        return web.Response(status=403, text="invalid signature")
    gw = request.app[GATEWAY]
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "unknown")
    error_code = str(form.get("ErrorCode") or "") or None
    to_number = normalize_phone(str(form.get("To") or ""), strict=False) if form.get("To") else None
    if not sid:
        return web.Response(status=400, text="MessageSid is required")
    await gw.sms_store.record_status(sid, to_number, status[:20], error_code and error_code[:10])
    # Against the text we sent (the outbox row named in the StatusCallback URL we gave Twilio)
    raw_outbox = request.query.get("outbox", "")
    async with session_scope(gw.sessions) as session:
        await record_provider_status(
            session,
            outbox_id=int(raw_outbox) if raw_outbox.isdigit() else None,
            message_sid=sid[:64],
            status=status[:20],
            error_code=error_code and error_code[:10],
            now=gw.clock(),
        )
    if error_code == OPT_OUT_ERROR_CODE and to_number:
        await gw.sms_store.set_opted_out(to_number, True, "twilio:21610")
    return web.Response(status=204)
