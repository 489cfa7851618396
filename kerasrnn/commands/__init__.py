"""The verbs of the `kerasrnn` command, one module each.

Each module has `add_<verb>_verb(verbs)`, which adds the verb's parser to
`kerasrnn`'s sub-commands and sets its `handler`, and the handler itself,
`run_<verb>(arguments)`. `parser.py` holds what they share (help that shows
defaults, how a model is named, the bounds on one input). `kerasrnn.cli`
puts the verbs together and runs the one asked for. Building the parser
imports no TensorFlow: the handlers import what they use.
"""
