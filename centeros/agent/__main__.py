"""``python -m centeros.agent`` runs the simulated robot."""

from centeros.agent.cli import agent

if __name__ == "__main__":
    agent(prog_name="python -m centeros.agent")
