"""Pure parts of drills: the sending plan and the human-or-automated classifier (no Django)."""
