"""What the pure risk, sizing and breach engines share: their typed rules, verdict, statuses, number parsing and loss limits."""
