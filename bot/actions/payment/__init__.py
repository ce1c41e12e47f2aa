"""Pay a bill: the payment form, its questions, the reading of each answer, and the submit.

Flow (rules in data/rules/payment.yml): `pay_bill` -> `verify_form` -> `confirm_form` (one-time
code) -> `payment_form` -> `action_submit_payment`.

`payment_form` asks, in order (`questions`):
1. `payment_amount_choice`: full balance, past-due only, or another amount (buttons; numbered
   choices by SMS). A typed amount ("$45", "fifty dollars") answers it at once.
2. `payment_amount_cents`: only asked for "another amount".
3. `payment_method`: a saved method (by type and last four) or "new" (a secure-page link).
4. `payment_confirm`: "Pay $142.87 today with Visa ending 4242? Reply YES ... or NO ...".

Every form slot has a `custom` mapping, read in `forms` (`extract_<slot>`) rather than by
`from_text`: what the member typed never lands in a slot unless it is a clean, validated value, so
a card number typed into the form is never stored in the tracker's slots. Messages that are not an
answer (never mind, the balance, the hours...) extract nothing, the form rejects them, and the
rules of data/rules/payment.yml answer and come back ("Back to your payment: ...").

`submit`: `action_submit_payment` charges through `PaymentService.pay` with an idempotency key
tied to the turn that said YES, so a retried action charges once; after a payment a second "yes"
is answered from `payment_last_confirmation` without calling the processor. The processor is the
container's (`deps.processor`, one per action-server process: its idempotency memory must outlive
one action call). `action_cancel_payment` stops at any step. The wording is in `texts`; the rules
(amount limits, charging, secure links) are in `bot.services.payments`, `payment_rules`,
`payment_processor` and `payment_links`.
"""
