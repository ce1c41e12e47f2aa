"""The identity gate every account journey passes through, and log out.

Flow (rules in data/rules/identity.yml): a journey that needs an account (`check_balance`,
`pay_bill`, ...) starts `verify_form` (tier `verified`), and a journey that moves money or changes
the account then starts `confirm_form` (tier `confirmed`) before its own form.

- `verify`: `validate_verify_form` checks the shape of the account number and the ZIP code (or
  the last payment amount; on SMS the phone on file stands for the account number), then makes
  one verification call and, for a member with several accounts, reads which one.
- `confirm`: `validate_confirm_form` checks the 6-digit one-time code sent to the phone (or
  email) on file.
- `questions`: the gate's questions; the code question sends the code.
- `logout`: log out, and a journey question asked while verification is under way.
- `texts`: what the gate says.

Thin on purpose: the rules (lockouts, the generic mismatch wording, code expiry and tries) live in
`bot.services.identity` and `bot.services.otp`; these modules turn slots into service calls and
results into slots and short messages. The dialogue pattern is docs/conversation-design.md.
"""
