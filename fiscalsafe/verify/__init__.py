"""Pure verification: parsed objects, trust and an as-of time in; findings out."""
