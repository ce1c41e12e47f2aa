"""Domain services: business rules in plain, typed Python. No Rasa types here."""
