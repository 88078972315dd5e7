"""Built-in behaviour-cloning trainer of CenterOS.

It trains a small MLP policy on the (observation, action) pairs of HDF5 and
LeRobot episodes with numpy alone, and writes the weights and normalisation
statistics to one ``.npz`` artifact. The worker runs it as a subprocess::

    python -m training.trainer --config CONFIG.json

and reads one JSON event per stdout line. ``training.trainer.policy`` loads
an artifact for inference. Nothing here imports Django.
"""

TRAINER_VERSION = "1.0.0"

BUILTIN_MODEL_TYPE = "bc_mlp"
BUILTIN_ALIASES = ("bc", "mlp")


class TrainerError(Exception):
    """A training job cannot run; the message is a sentence for the user."""
