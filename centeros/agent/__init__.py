"""A simulated robot that speaks the CenterOS agent protocol (client side).

It imports neither Django nor any server module: it talks to a CenterOS
server over HTTP only, with the robot token that ``register_robot`` issued.
Run it with ``centeros agent`` or ``python -m centeros.agent``.
"""
