"""Business rules that own their transactions (STYLE §5)."""
