"""Server-rendered HTML of the agent console. Every value is escaped here, in one place.

Plain HTML with a small script (`/console/static/console.js`) for live updates and the presence
heartbeat; everything works by ordinary form posts without it. No external fonts, CDNs or scripts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from bot.gateway.conversations import StoredMessage

TIER_LABELS = {
    "public": "Not verified",
    "verified": "Verified",
    "confirmed": "Confirmed (one-time code)",
}


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def waited(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    minutes = max(0, int((now - since).total_seconds() // 60))
    return "under 1 min" if minutes == 0 else f"{minutes} min"


def _seconds(since: datetime | None, now: datetime) -> str:
    return str(int((now - since).total_seconds())) if since else ""


def layout(
    title: str,
    body: str,
    *,
    agent_name: str | None = None,
    csrf: str | None = None,
    presence: str | None = None,
    page: str = "",
    conversation_id: str | None = None,
) -> str:
    meta = f'<meta name="csrf-token" content="{e(csrf)}">' if csrf else ""
    header = ""
    if agent_name:
        options = "".join(
            f'<option value="{p}"{" selected" if p == presence else ""}>{label}</option>'
            for p, label in (("online", "Online"), ("away", "Away"))
        )
        header = f"""
  <header class="top"><div class="wrap">
    <a class="brand" href="/console">Member services console</a>
    <nav aria-label="Console"><a href="/console">Queue</a>
      <a href="/console/search">Closed conversations</a>
      <a href="/console/outages">Outages</a>
      <a href="/console/team">Team</a>
      <a href="/console/insights">Insights</a></nav>
    <form method="post" action="/console/presence" class="inline" id="presence-form">
      <input type="hidden" name="csrf" value="{e(csrf)}">
      <label for="presence">{e(agent_name)} is</label>
      <select id="presence" name="presence">{options}</select>
      <button type="submit">Set</button>
    </form>
    <form method="post" action="/console/logout" class="inline">
      <input type="hidden" name="csrf" value="{e(csrf)}"><button type="submit">Sign out</button>
    </form>
  </div></header>"""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e(title)} - JEC member services console</title>
  {meta}
  <link rel="stylesheet" href="/console/static/console.css">
</head>
<body data-page="{e(page)}" data-conversation="{e(conversation_id or "")}">
  <a class="skip" href="#main">Skip to content</a>{header}
  <main id="main" class="wrap" tabindex="-1">
{body}
  </main>
  <script src="/console/static/console.js" defer></script>
</body>
</html>"""


def login_page(
    csrf: str, error: str | None = None, notice: str | None = None, totp: bool = False
) -> str:
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    info = f'<p class="notice" role="status">{e(notice)}</p>' if notice else ""
    code = (
        """
      <label for="code">Code from your authenticator app</label>
      <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
        pattern="[0-9 ]{6,7}" maxlength="7" required>"""
        if totp
        else ""
    )
    body = f"""
    <h1>Sign in</h1>{alert}{info}
    <form method="post" action="/console/login" class="stack">
      <input type="hidden" name="csrf" value="{e(csrf)}">
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required autofocus>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password"
        required>{code}
      <button type="submit">Sign in</button>
    </form>"""
    return layout("Sign in", body, page="login")


@dataclass(frozen=True)
class QueueRow:
    handoff_id: int
    conversation_id: str
    channel: str
    created_at: datetime | None
    verified_tier: str
    verified_how: str | None
    topic: str | None
    status: str
    agent_name: str | None = None
    member_left: bool = False
    member_heard_at: datetime | None = None  # the member's last message (or the handoff)


QUIET_MINUTES = 10


def member_state(r: QueueRow, now: datetime) -> str:
    """ "Member left" (ended the chat), "Quiet for N min" (nothing for QUIET_MINUTES), or ""."""
    if r.member_left:
        return '<span class="badge left">Member left</span>'
    if r.member_heard_at is not None:
        minutes = int((now - r.member_heard_at).total_seconds() // 60)
        if minutes >= QUIET_MINUTES:
            return f'<span class="badge quiet">Member quiet for {minutes} min</span>'
    return ""


def _tier(tier: str, how: str | None) -> str:
    label = TIER_LABELS.get(tier, tier)
    return f"{e(label)}" + (f' <span class="muted">({e(how)})</span>' if how else "")


def queue_region(
    waiting: Sequence[QueueRow],
    mine: Sequence[QueueRow],
    others: Sequence[QueueRow],
    csrf: str,
    now: datetime,
) -> str:
    if waiting:
        rows = "".join(
            f"""
        <tr>
          <td>{i}</td><td class="waited"
            data-waited="{_seconds(r.created_at, now)}">{e(waited(r.created_at, now))} {
                member_state(r, now)
            }</td>
          <td>{e(r.channel.upper())}</td>
          <td>{_tier(r.verified_tier, r.verified_how)}</td><td>{e(r.topic or "-")}</td>
          <td><form method="post" action="/console/handoffs/{r.handoff_id}/take">
            <input type="hidden" name="csrf" value="{e(csrf)}">
            <button type="submit"
              aria-label="Take conversation {i} ({e(r.topic or r.channel)})">Take</button>
          </form></td>
        </tr>"""
            for i, r in enumerate(waiting, 1)
        )
        table = f"""<table><caption>Members waiting, longest first</caption>
        <thead><tr><th scope="col">#</th><th scope="col">Waiting</th><th scope="col">Channel</th>
        <th scope="col">Identity</th><th scope="col">Topic</th>
        <th scope="col"><span class="sr">Action</span></th></tr></thead>
        <tbody>{rows}</tbody></table>"""
    else:
        table = '<p class="muted">No one is waiting.</p>'
    mine_html = (
        "".join(
            f'<li><a href="/console/handoffs/{r.handoff_id}">{e(r.channel.upper())} - '
            f"{e(r.topic or 'conversation')}</a>"
            f' <span class="muted">since {e(waited(r.created_at, now))} ago</span>'
            f" {member_state(r, now)}</li>"
            for r in mine
        )
        or '<li class="muted">None.</li>'
    )
    others_html = (
        "".join(
            f"<li>{e(r.channel.upper())} - {e(r.topic or 'conversation')} with "
            f"{e(r.agent_name or 'an agent')}</li>"
            for r in others
        )
        or '<li class="muted">None.</li>'
    )
    return f"""
      <section aria-labelledby="waiting-h">
        <h2 id="waiting-h">Queue ({len(waiting)} waiting)</h2>{table}</section>
      <section aria-labelledby="mine-h">
        <h2 id="mine-h">My conversations</h2><ul>{mine_html}</ul></section>
      <section aria-labelledby="others-h">
        <h2 id="others-h">With other agents</h2><ul>{others_html}</ul></section>"""


def _done_table(
    caption: str,
    kind: str,
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    csrf: str,
) -> str:
    rows = list(rows)
    if not rows:
        return f'<h2>{e(caption)}</h2><p class="muted">Nothing open.</p>'
    head = "".join(f'<th scope="col">{e(label)}</th>' for _key, label in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{e(r.get(key) or '-')}</td>" for key, _label in columns)
        + f"""<td><form method="post" action="/console/{kind}/{r["id"]}/done">
              <input type="hidden" name="csrf" value="{e(csrf)}">
              <button type="submit"
                aria-label="Mark {e(caption.lower())} {r["id"]} done">Mark done</button>
              </form></td></tr>"""
        for r in rows
    )
    return f"""<h2>{e(caption)}</h2><table><thead><tr>{head}
      <th scope="col"><span class="sr">Action</span></th></tr></thead>
      <tbody>{body}</tbody></table>"""


def home_page(
    *,
    agent_name: str,
    presence: str,
    csrf: str,
    queue_html: str,
    callbacks: Iterable[dict[str, Any]],
    service_requests: Iterable[dict[str, Any]],
    flash: str | None = None,
) -> str:
    note = f'<p class="notice" role="status">{e(flash)}</p>' if flash else ""
    body = f"""
    <h1>Queue</h1>{note}
    <p><button type="button" id="notify-on" class="secondary" hidden>Turn on desktop
      notifications for new conversations</button></p>
    <div id="queue-region" aria-live="polite">{queue_html}</div>
    <section aria-label="Callback requests">{
        _done_table(
            "Callback requests",
            "callbacks",
            callbacks,
            [
                ("created", "Asked"),
                ("name", "Name"),
                ("phone", "Phone"),
                ("best_time", "Best time"),
                ("topic", "Topic"),
                ("tier", "Identity"),
            ],
            csrf,
        )
    }</section>
    <section aria-label="Service requests">{
        _done_table(
            "Service requests",
            "service-requests",
            service_requests,
            [
                ("reference", "Reference"),
                ("kind", "Kind"),
                ("requested_date", "Date"),
                ("channel", "Channel"),
                ("created", "Asked"),
            ],
            csrf,
        )
    }</section>"""
    return layout("Queue", body, agent_name=agent_name, csrf=csrf, presence=presence, page="queue")


def message_item(message: StoredMessage, tz: Any) -> str:
    who = {"member": "Member", "bot": "Assistant", "system": "Notice"}.get(message.sender, "")
    if message.sender == "agent":
        who = f"{message.payload.get('agent_name') or 'Agent'} (agent)"
    at = message.created_at.astimezone(tz).strftime("%-I:%M %p") if message.created_at else ""
    return (
        f'<li class="msg {e(message.sender)}" data-seq="{message.seq}"><span '
        f'class="who">{e(who)}</span> '
        f'<time>{e(at)}</time><div class="text">{e(message.text)}</div></li>'
    )


def conversation_page(
    *,
    agent_name: str,
    presence: str,
    csrf: str,
    row: QueueRow,
    mine: bool,
    messages: Sequence[StoredMessage],
    tz: Any,
    account_html: str,
    agents: Sequence[tuple[int, str]],
    reply_label: str,
    flash: str | None = None,
    context_html: str = "",
    canned: Sequence[Any] = (),
    notes_html: str = "",
    sms_alphabets: tuple[str, str] | None = None,
) -> str:
    note = f'<p class="notice" role="status">{e(flash)}</p>' if flash else ""
    transcript = "".join(
        message_item(m, tz) for m in messages if m.text.strip()
    )  # not bare custom payloads
    controls = ""
    if mine and row.status == "assigned":
        options = "".join(f'<option value="{aid}">{e(name)}</option>' for aid, name in agents)
        transfer = (
            f"""
      <form method="post" action="/console/handoffs/{row.handoff_id}/transfer" class="inline">
        <input type="hidden" name="csrf" value="{e(csrf)}">
        <label for="to-agent">Transfer to</label>
        <select id="to-agent" name="agent_id">{options}</select>
        <button type="submit">Transfer</button>
      </form>"""
            if agents
            else ""
        )
        controls = f"""
    <form method="post" action="/console/handoffs/{row.handoff_id}/reply" class="stack"
      id="reply-form">
      <input type="hidden" name="csrf" value="{e(csrf)}">
{canned_picker(canned)}
      <label for="reply">{e(reply_label)}</label>
      <textarea id="reply" name="text" rows="3" maxlength="1600"{sms_attrs(sms_alphabets)}
        aria-describedby="sms-count"></textarea>
      <p id="sms-count" class="muted" aria-live="polite"></p>
      <button type="submit">Send</button>
    </form>
    <div class="actions">{transfer}
      <form method="post" action="/console/handoffs/{row.handoff_id}/end" class="inline">
        <input type="hidden" name="csrf" value="{e(csrf)}">
        <button type="submit" class="secondary">End and hand back to the assistant</button>
      </form>
    </div>"""
    elif row.status == "waiting":
        controls = f"""<form method="post" action="/console/handoffs/{row.handoff_id}/take">
        <input type="hidden" name="csrf" value="{e(csrf)}">
        <button type="submit">Take this conversation</button></form>"""
    else:
        with_agent = f" with {e(row.agent_name)}" if row.agent_name else ""
        controls = f'<p class="muted">This conversation is {e(row.status)}{with_agent}.</p>'
    since = row.created_at.astimezone(tz).strftime("%-I:%M %p") if row.created_at else "-"
    body = f"""
    <p><a href="/console">Back to the queue</a></p>
    <h1>{e(row.channel.upper())} conversation: {e(row.topic or "member question")}</h1>{note}
    <p>Identity: {_tier(row.verified_tier, row.verified_how)}. Waiting since {e(since)}.</p>
    <p id="member-left" class="notice" role="status"{"" if row.member_left else " hidden"}>The
      member ended the chat: they will not see a reply on the web. Add a note and hand back.</p>
    {context_html}
    <div class="columns">
      <section aria-labelledby="t-h" class="transcript-box">
        <h2 id="t-h">Transcript</h2>
        <p class="muted">Card and bank numbers are masked before anything is stored.</p>
        <ol id="transcript" aria-live="polite" aria-relevant="additions">{transcript}</ol>
        <p id="member-typing" class="typing" role="status" hidden>The member is typing...</p>
        {controls}
      </section>
      <aside>
        <section aria-labelledby="acct-h"><h2 id="acct-h">Account</h2>{account_html}</section>
        {notes_html}
      </aside>
    </div>"""
    return layout(
        "Conversation",
        body,
        agent_name=agent_name,
        csrf=csrf,
        presence=presence,
        page="conversation",
        conversation_id=row.conversation_id,
    )


def sms_attrs(alphabets: tuple[str, str] | None) -> str:
    """The GSM-7 alphabets on the reply box of a text conversation, for the length counter."""
    if alphabets is None:
        return ""
    basic, extended = alphabets
    return f' data-sms="1" data-gsm-basic="{e(basic)}" data-gsm-ext="{e(extended)}"'


def canned_picker(canned: Sequence[Any]) -> str:
    """Canned replies (already filled): a select the script copies into the reply box; without
    the script the chosen one is sent as it is when the reply box is left empty."""
    if not canned:
        return ""
    options = ['<option value="">Choose a canned reply...</option>']
    for c in canned:
        if c.text is None:
            needs = ", ".join("{" + m + "}" for m in c.missing)
            options.append(
                f'<option value="" disabled>{e(c.title)} (needs {e(needs)}: no verified '
                "account)</option>"
            )
        else:
            options.append(
                f'<option value="{e(c.id)}" data-text="{e(c.text)}">{e(c.title)}</option>'
            )
    return f"""
      <label for="canned">Canned reply</label>
      <select id="canned" name="canned">{"".join(options)}</select>"""


def context_panel(ctx: Any, tz: Any, may_open: Any) -> str:
    """The handover summary at the top of a conversation page."""
    said = (
        "".join(f"<li>{e(t)}</li>" for t in ctx.assistant_said)
        or '<li class="muted">Nothing yet.</li>'
    )
    earlier_items = []
    for c in ctx.earlier:
        when = c.created_at.astimezone(tz).strftime("%b %-d, %Y") if c.created_at else "-"
        label = (
            f"{e(when)} - {e(c.channel.upper())} - {e(c.topic or 'conversation')} "
            f"({e(c.status)}{', ' + e(c.agent_name) if c.agent_name else ''})"
        )
        earlier_items.append(
            f'<li><a href="/console/handoffs/{c.handoff_id}">{label}</a></li>'
            if may_open(c)
            else f"<li>{label}</li>"
        )
    earlier = "".join(earlier_items) or '<li class="muted">None.</li>'
    return f"""
    <section aria-labelledby="ctx-h" class="context" id="handover-summary">
      <h2 id="ctx-h">Handover summary</h2>
      <dl>
        <dt>Who</dt><dd>{e(ctx.who)}</dd>
        <dt>Verified</dt><dd>{e(ctx.verified)}</dd>
        <dt>Channel</dt><dd>{e(ctx.channel)}</dd>
        <dt>Member's local time</dt><dd>{e(ctx.member_time)}</dd>
        <dt>Was in the middle of</dt><dd>{e(ctx.journey or "nothing in particular")}</dd>
        <dt>Asked</dt><dd>{e(ctx.asked or "-")}</dd>
        <dt>The assistant said</dt><dd><ul>{said}</ul></dd>
      </dl>
      <h3>Earlier conversations</h3><ul id="earlier">{earlier}</ul>
    </section>"""


def notes_section(notes: Sequence[Any], tz: Any, csrf: str, handoff_id: int, can_add: bool) -> str:
    items = (
        "".join(
            f'<li class="note"><span class="who">{e(n.agent_name)}</span> '
            f"<time>{e(n.created_at.astimezone(tz).strftime('%b %-d %-I:%M %p'))}</time>"
            f'<div class="text">{e(n.text)}</div></li>'
            for n in notes
        )
        or '<li class="muted">No notes yet.</li>'
    )
    form = (
        f"""
      <form method="post" action="/console/handoffs/{handoff_id}/notes" class="stack">
        <input type="hidden" name="csrf" value="{e(csrf)}">
        <label for="note">Add a private note</label>
        <textarea id="note" name="text" rows="2" maxlength="2000" required></textarea>
        <button type="submit" class="secondary">Save note</button>
      </form>"""
        if can_add
        else ""
    )
    return f"""
    <section aria-labelledby="notes-h" class="notes">
      <h2 id="notes-h">Private notes</h2>
      <p class="muted">Staff only: the member never sees these.</p>
      <ol id="notes">{items}</ol>{form}
    </section>"""


def account_summary(account: Any | None, balance: Any | None, format_cents: Any) -> str:
    if account is None:
        return '<p class="muted">The member has not verified an account in this conversation.</p>'
    rows = [
        ("Account", f"ending {account.last4}"),
        ("Member", f"{account.member_first_name} {account.member_last_name}".strip()),
        ("Service address", account.service_address),
        ("Status", account.status),
    ]
    if balance is not None:
        rows += [
            ("Amount due", format_cents(balance.amount_due_cents)),
            ("Due date", balance.due_date.strftime("%b %-d, %Y") if balance.due_date else "-"),
            ("Past due", format_cents(balance.past_due_cents)),
        ]
        if balance.last_payment:
            rows.append(
                (
                    "Last payment",
                    (
                        f"{format_cents(balance.last_payment.amount_cents)} on "
                        f"{balance.last_payment.received_on:%b %-d}"
                    ),
                )
            )
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def message_page(title: str, text: str, status_code: int = 200) -> str:
    return layout(
        title,
        f'<h1>{e(title)}</h1><p>{e(text)}</p><p><a href="/console">Back to the console</a></p>',
    )
