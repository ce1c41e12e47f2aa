-- Runs once, when the PostgreSQL volume is created: Rasa's tracker store has its own database
-- (RASA_TRACKER_URL), owned by the same role as the member-services one (DATABASE_URL).
CREATE DATABASE jec_rasa OWNER jec;
