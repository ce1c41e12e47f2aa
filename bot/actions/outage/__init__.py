"""The outage journey's actions, one module per step.

`safety` (the safety message first whenever a hazard is mentioned), `report` (the address form and
the report), `restore_notice` (a text when power is back) and `status` (by reference, town or ZIP,
or the verified member's own account). Flow: report_outage -> action_outage_safety ->
outage_report_form -> action_report_outage -> YES -> outage_notify_form -> action_outage_notify;
outage_status -> action_outage_status (then YES -> action_choice_yes -> the report form).
`unsure` (issue 9): an unsure message (`nlu_fallback`) gets a choice of the best candidates, or,
between the two outage intents, the known outage and the report.
"""
