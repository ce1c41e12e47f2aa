"""Recurring bank draft: enroll, view, change and cancel, as a conversation.

Flow (rules in data/rules/draft.yml, forms and slots in domain/draft.yml): a draft intent opens
the identity gate (confirmed tier); `action_draft_start` (`start`) then looks at what was asked
(`draft_action`) and at the account's enrollment, shows the enrollment or sets `draft_next`
(enroll/change/cancel/done), which picks the form: `draft_form` (enroll), `draft_change_form` or
`draft_cancel_form`. The forms' validators are in `forms`, their questions in `questions`; each
form ends with its action in `submit` (`action_draft_enroll`, `action_draft_change`,
`action_draft_cancel`; `action_draft_stop` for "never mind").

The rules (allowed days, notice periods, the authorization wording) are `bot.services.drafts`;
the records and the member's copy of each authorization (NACHA: shown, agreed, stored, copied to
the member) are `bot.services.draft_authorizations`. These actions collect the member's choices,
show the exact wording, ask for an explicit YES and call those services. Member-facing wording
and buttons are in `texts`; what the journey keeps in slots, and how answers are read, in `slots`.

Safety: card and bank numbers typed into any of these forms are never put in a slot; the member
is told it was not kept and is pointed to the secure page. Slots hold only choices: a draft day,
an amount rule, cents, the id of a saved bank account, yes/no.
"""
