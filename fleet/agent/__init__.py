"""Server side of the agent protocol that robots speak under /api/agent/v1/."""
