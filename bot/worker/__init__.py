"""Work that runs after a conversation: periodic jobs (restore texts, notices, deliveries).

`base` defines what a job sees (`JobContext`) and what a periodic job is (`PeriodicTask`);
`registry` lists the periodic jobs the process's one background engine runs.
"""
