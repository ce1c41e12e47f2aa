"""Co-op insights (`/console/insights`, supervisors and admins; CSV at `/console/insights.csv`).

Computed on request from what the gateway already stores, over the last `days` days (7, 30 or
90) in the co-op's time zone; nothing leaves the co-op and no chart library or CDN is used (the
charts are inline SVG drawn here, each with a text table for screen readers):

- conversations per day by channel (`conversations.created_at`);
- containment: conversations with no handoff request, i.e. resolved without a person; the handoff
  rate and the average wait from asking to an agent joining;
- topics handed to a person (the journey the member was in, `handoff_requests.topic`);
- top intents: what members asked, by the intent Rasa gave each message (our Rasa channel adds
  it to the turn's first reply and the gateway stores it in the reply's payload, never shown to
  the member; `bot.gateway.conversations.REPLY_PAYLOAD_KEYS`);
- fallbacks: replies to a message Rasa was unsure of (`nlu_fallback`), or, for replies stored
  without an intent, the recovery's wording ("did you mean", "didn't get that"); their rate per
  member message, and the member messages just before them (already masked), so staff can teach
  the assistant;
- payments made in chat (web or SMS, succeeded) and bank drafts set up;
- outage reports by town;
- satisfaction: the survey answers after a hand-back (1-5), their average and response rate.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.core.money import format_cents
from bot.gateway.console.pages import e, layout
from bot.gateway.state import Gateway
from bot.store.db import session_scope
from bot.store.models import (
    Conversation,
    ConversationMessage,
    DraftEnrollment,
    HandoffRequest,
    OutageReport,
    Payment,
)

PERIODS = (7, 30, 90)
FALLBACK_MARKERS = (
    "Sorry, I didn't quite get that",
    "I'm not sure I got that",
    "I can connect you with a person, or you can",
)
FALLBACK_INTENT = "nlu_fallback"
CHAT_CHANNELS = ("web", "sms")


def is_fallback(text: str, intent: str | None = None) -> bool:
    """A reply to a message the assistant did not understand (by its stored intent if any)."""
    if intent is not None:
        return intent == FALLBACK_INTENT
    return any(marker in text for marker in FALLBACK_MARKERS)


def stored_intent(payload: Any) -> str | None:
    nlu = payload.get("nlu") if isinstance(payload, dict) else None
    name = nlu.get("intent") if isinstance(nlu, dict) else None
    return name if isinstance(name, str) and name else None


@dataclass
class Insights:
    start: date
    end: date
    per_day: dict[date, Counter[str]] = field(default_factory=dict)
    conversations: int = 0
    handed_over: int = 0
    waits_seconds: list[float] = field(default_factory=list)
    topics: Counter[str] = field(default_factory=Counter)
    member_messages: int = 0
    intents: Counter[str] = field(default_factory=Counter)
    fallbacks: int = 0
    fell_back: list[tuple[datetime, str]] = field(default_factory=list)
    payments: int = 0
    payments_cents: int = 0
    drafts: int = 0
    outage_towns: Counter[str] = field(default_factory=Counter)
    scores: Counter[int] = field(default_factory=Counter)
    surveys_asked: int = 0

    @property
    def contained(self) -> int:
        return self.conversations - self.handed_over

    @staticmethod
    def pct(part: int, whole: int) -> str:
        return f"{round(100 * part / whole)}%" if whole else "-"

    @property
    def containment(self) -> str:
        return self.pct(self.contained, self.conversations)

    @property
    def handoff_rate(self) -> str:
        return self.pct(self.handed_over, self.conversations)

    @property
    def average_wait(self) -> str:
        if not self.waits_seconds:
            return "-"
        minutes = sum(self.waits_seconds) / len(self.waits_seconds) / 60
        return f"{minutes:.1f} min"

    @property
    def fallback_rate(self) -> str:
        return self.pct(self.fallbacks, self.member_messages)

    @property
    def answered(self) -> int:
        return sum(self.scores.values())

    @property
    def average_score(self) -> str:
        if not self.answered:
            return "-"
        return f"{sum(k * v for k, v in self.scores.items()) / self.answered:.1f}"


async def compute(gw: Gateway, days: int) -> Insights:
    tz = gw.profile.timezone
    today = gw.clock().astimezone(tz).date()
    start = today - timedelta(days=days - 1)
    since = datetime.combine(start, time(), tz)
    out = Insights(start, today)
    day = start
    while day <= today:
        out.per_day[day] = Counter()
        day += timedelta(days=1)
    async with session_scope(gw.sessions) as session:
        convs = (
            await session.execute(
                select(Conversation.id, Conversation.channel, Conversation.created_at).where(
                    Conversation.created_at >= since
                )
            )
        ).all()
        ids = {c.id for c in convs}
        for c in convs:
            local = c.created_at.astimezone(tz).date()
            out.per_day.setdefault(local, Counter())[c.channel] += 1
        out.conversations = len(convs)
        handoffs = (
            await session.scalars(select(HandoffRequest).where(HandoffRequest.created_at >= since))
        ).all()
        out.handed_over = len({h.conversation_id for h in handoffs if h.conversation_id in ids})
        for h in handoffs:
            if h.assigned_at is not None:
                out.waits_seconds.append((h.assigned_at - h.created_at).total_seconds())
            out.topics[h.topic or "(no topic)"] += 1
            if h.survey_asked_at is not None:
                out.surveys_asked += 1
            if h.survey_score is not None:
                out.scores[h.survey_score] += 1
        msgs = (
            await session.execute(
                select(
                    ConversationMessage.conversation_id,
                    ConversationMessage.seq,
                    ConversationMessage.sender,
                    ConversationMessage.text,
                    ConversationMessage.payload,
                    ConversationMessage.created_at,
                )
                .where(ConversationMessage.created_at >= since)
                .order_by(ConversationMessage.conversation_id, ConversationMessage.seq)
            )
        ).all()
        last_member: dict[str, tuple[datetime, str]] = {}
        for m in msgs:
            if m.sender == "member":
                out.member_messages += 1
                last_member[m.conversation_id] = (m.created_at, m.text)
            elif m.sender == "bot":
                intent = stored_intent(m.payload)
                if intent is not None and intent != FALLBACK_INTENT:
                    out.intents[intent] += 1
                if is_fallback(m.text, intent):
                    out.fallbacks += 1
                    if m.conversation_id in last_member:
                        out.fell_back.append(last_member[m.conversation_id])
        out.fell_back.sort(reverse=True)
        paid = (
            await session.execute(
                select(
                    func.count(Payment.id), func.coalesce(func.sum(Payment.amount_cents), 0)
                ).where(
                    Payment.created_at >= since,
                    Payment.channel.in_(CHAT_CHANNELS),
                    Payment.status == "succeeded",
                )
            )
        ).one()
        out.payments, out.payments_cents = int(paid[0]), int(paid[1])
        out.drafts = int(
            await session.scalar(
                select(func.count(DraftEnrollment.id)).where(DraftEnrollment.created_at >= since)
            )
            or 0
        )
        for town, n in (
            await session.execute(
                select(OutageReport.town, func.count(OutageReport.id))
                .where(OutageReport.created_at >= since)
                .group_by(OutageReport.town)
            )
        ).all():
            out.outage_towns[town or "(unknown)"] += int(n)
    return out


# -- charts (inline SVG) --------------------------------------------------------------------------

COLOURS = {"web": "#1d4f91", "sms": "#b45309"}


def bar_chart(
    title: str, items: list[tuple[str, int]], chart_id: str, colour: str = "#1d4f91"
) -> str:
    """Horizontal bars with their values; a table of the same numbers for screen readers."""
    if not items:
        return (
            f'<figure id="{e(chart_id)}" class="chart"><figcaption>{e(title)}</figcaption>'
            '<p class="muted">No data yet.</p></figure>'
        )
    top = max(v for _, v in items) or 1
    row_h, label_w, bar_w = 26, 210, 320
    height = row_h * len(items) + 8
    bars = "".join(
        f'<g transform="translate(0,{i * row_h + 4})"><text x="{label_w - 8}" y="16" '
        f'text-anchor="end" font-size="13">{e(label[:32])}</text>'
        f'<rect x="{label_w}" y="3" height="18" width="{max(2, round(bar_w * v / top))}" '
        f'fill="{colour}"><title>{e(label)}: {v}</title></rect>'
        f'<text x="{label_w + max(2, round(bar_w * v / top)) + 6}" y="16" font-size="13" '
        f'class="value">{v}</text></g>'
        for i, (label, v) in enumerate(items)
    )
    table = "".join(f'<tr><th scope="row">{e(k)}</th><td>{v}</td></tr>' for k, v in items)
    values = e(",".join(str(v) for _, v in items))
    return f"""<figure id="{e(chart_id)}" class="chart"><figcaption>{e(title)}</figcaption>
      <svg role="img" aria-label="{e(title)}" viewBox="0 0 {label_w + bar_w + 50} {height}"
        width="100%" height="{height}" data-values="{values}">{bars}</svg>
      <table class="sr"><caption>{e(title)}</caption><tbody>{table}</tbody></table></figure>"""


def daily_chart(ins: Insights) -> str:
    """Stacked columns of conversations per day, web and SMS."""
    days = sorted(ins.per_day)
    top = max((sum(ins.per_day[d].values()) for d in days), default=0) or 1
    col_w, height, base = max(6, min(28, 700 // max(1, len(days)))), 160, 140
    cols = []
    for i, d in enumerate(days):
        y = base
        for channel in CHAT_CHANNELS:
            n = ins.per_day[d][channel]
            if not n:
                continue
            h = round(120 * n / top)
            y -= h
            cols.append(
                f'<rect x="{i * col_w + 2}" y="{y}" width="{col_w - 3}" height="{h}" '
                f'fill="{COLOURS[channel]}" data-channel="{channel}" data-count="{n}">'
                f"<title>{d:%b %-d} {channel.upper()}: {n}</title></rect>"
            )
    labels = "".join(
        f'<text x="{i * col_w + 2}" y="156" font-size="11">{d:%-d}</text>'
        for i, d in enumerate(days)
        if i % max(1, len(days) // 10) == 0
    )
    legend = " ".join(f'<span class="legend {c}">{c.upper()}</span>' for c in CHAT_CHANNELS)
    table = "".join(
        f'<tr><th scope="row">{d:%b %-d}</th><td>{ins.per_day[d]["web"]}</td>'
        f"<td>{ins.per_day[d]['sms']}</td></tr>"
        for d in days
    )
    return f"""<figure id="chart-daily" class="chart"><figcaption>Conversations per day
      (web and SMS) {legend}</figcaption>
      <svg role="img" aria-label="Conversations per day by channel"
        viewBox="0 0 {max(1, len(days)) * col_w + 4} {height}" width="100%" height="{height}">
        {"".join(cols)}{labels}</svg>
      <table class="sr"><caption>Conversations per day</caption><thead><tr><th scope="col">Day</th>
      <th scope="col">Web</th><th scope="col">SMS</th></tr></thead><tbody>{table}</tbody></table>
      </figure>"""


def insights_page(
    *, agent_name: str, presence: str, csrf: str, ins: Insights, days: int, tz: Any
) -> str:
    current = ' aria-current="page"'
    periods = " ".join(
        f'<a href="/console/insights?days={p}"{current if p == days else ""}>Last {p} days</a>'
        for p in PERIODS
    )
    containment = [("Assistant", ins.contained), ("Person", ins.handed_over)]
    towns = ins.outage_towns.most_common(10)
    tiles = "".join(
        f'<div class="tile" id="tile-{k}"><span class="tile-v">{e(v)}</span>'
        f'<span class="tile-k">{e(label)}</span></div>'
        for k, label, v in (
            ("conversations", "Conversations", ins.conversations),
            ("containment", "Resolved by the assistant", ins.containment),
            ("handoff", "Handed to a person", ins.handoff_rate),
            ("wait", "Average wait for a person", ins.average_wait),
            ("fallback", "Fallback rate", ins.fallback_rate),
            (
                "payments",
                "Payments in chat",
                f"{ins.payments} ({format_cents(ins.payments_cents)})",
            ),
            ("drafts", "Bank drafts set up", ins.drafts),
            ("satisfaction", "Average rating (1-5)", f"{ins.average_score} from {ins.answered}"),
        )
    )
    fell_back = (
        "".join(
            f"<li><time>{e(at.astimezone(tz).strftime('%b %-d %-I:%M %p'))}</time> {e(text)}</li>"
            for at, text in ins.fell_back[:20]
        )
        or '<li class="muted">None.</li>'
    )
    scores = [(f"{n} star{'s' if n != 1 else ''}", ins.scores[n]) for n in range(5, 0, -1)]
    body = f"""
    <p><a href="/console">Back to the queue</a></p>
    <h1>Co-op insights</h1>
    <p>{periods} <span class="muted">({ins.start:%b %-d} to {ins.end:%b %-d, %Y})</span>
      <a href="/console/insights.csv?days={days}" download>Download CSV</a></p>
    <div class="tiles">{tiles}</div>
    {daily_chart(ins)}
    <div class="chart-grid">
    {bar_chart("Resolved by the assistant or by a person", containment, "chart-containment")}
    {bar_chart("What members asked (top intents)", ins.intents.most_common(8), "chart-intents")}
    {bar_chart("Topics handed to a person", ins.topics.most_common(8), "chart-topics", "#0f766e")}
    {bar_chart("Outage reports by town", towns, "chart-outages", "#b91c1c")}
    {bar_chart("Satisfaction after a person helped", scores, "chart-satisfaction", "#6d28d9")}
    </div>
    <section aria-labelledby="fb-h"><h2 id="fb-h">Messages the assistant did not understand</h2>
      <p class="muted">{ins.fallbacks} fallback{"" if ins.fallbacks == 1 else "s"} in {
        ins.member_messages
    } member messages. Teach the assistant these (data/nlu).</p>
      <ul id="fell-back">{fell_back}</ul></section>"""
    return layout(
        "Insights", body, agent_name=agent_name, csrf=csrf, presence=presence, page="insights"
    )


def insights_csv(ins: Insights) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["metric", "key", "value"])
    for d in sorted(ins.per_day):
        for channel in CHAT_CHANNELS:
            w.writerow(
                ["conversations_per_day", f"{d.isoformat()} {channel}", ins.per_day[d][channel]]
            )
    w.writerow(["conversations", "", ins.conversations])
    w.writerow(["resolved_by_assistant", "", ins.contained])
    w.writerow(["handed_to_a_person", "", ins.handed_over])
    w.writerow(["containment", "", ins.containment])
    w.writerow(["average_wait", "", ins.average_wait])
    for topic, n in ins.topics.most_common():
        w.writerow(["handoff_topic", topic, n])
    w.writerow(["member_messages", "", ins.member_messages])
    for intent, n in ins.intents.most_common():
        w.writerow(["intent", intent, n])
    w.writerow(["fallbacks", "", ins.fallbacks])
    w.writerow(["payments_in_chat", "", ins.payments])
    w.writerow(["payments_in_chat_cents", "", ins.payments_cents])
    w.writerow(["bank_drafts_set_up", "", ins.drafts])
    for town, n in ins.outage_towns.most_common():
        w.writerow(["outage_reports", town, n])
    for score in range(1, 6):
        w.writerow(["satisfaction", str(score), ins.scores[score]])
    w.writerow(["surveys_asked", "", ins.surveys_asked])
    return buf.getvalue()
