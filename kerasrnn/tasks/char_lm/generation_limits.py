"""How much one `generate` call may do, shared by the Keras sampler and the portable model (no TensorFlow).

Example:

>>> MAX_GENERATE_LENGTH, MAX_PROMPT_LENGTH
(2000, 10000)
"""

# Generation is O(length) sequential steps; a cap keeps one request from
# occupying a server thread for minutes.
MAX_GENERATE_LENGTH = 2000
# The prompt is fed one character per step too: capped at 5x the generation
# (Tiny Shakespeare's longest speech is under 3,500 characters).
MAX_PROMPT_LENGTH = 10_000
