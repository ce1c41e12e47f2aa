"""The bottom layer: small pure helpers (money, checksums, masking, phones, dates, the clock,
GSM-7, yes/no answers, amounts typed by members). Nothing here imports anything else of ours."""
