"""The kerasrnn reference architectures in PyTorch, for side-by-side training speed."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# PyTorch's layer for each kerasrnn cell name (`nn.RNN` is tanh, as Keras' SimpleRNN default).
RECURRENT_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "simple_rnn": nn.RNN}


class TorchCharLM(nn.Module):
    """Embedding → stacked LSTM (or GRU, RNN) → Linear, as `build_char_lm` builds it (dropout and carried state included).

    Keras' `dropout` drops each recurrent layer's inputs and, once more, the
    last layer's outputs before the head: three applications for two layers.
    Here: `nn.Dropout` on the embeddings, `nn.LSTM(dropout=...)` between the
    layers and `nn.Dropout` before the head, the same three.

    Args:
        vocab_size: characters in the vocabulary.
        embedding_dim: size of the character embeddings.
        units: hidden units per layer.
        num_layers: stacked LSTM layers.
        dropout: dropout rate, as the Keras builder's.
        stateful: carry the (detached) state from one batch to the next, as
            a stateful Keras model trains with truncated BPTT.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"` (`nn.RNN`, tanh).

    Example:

    >>> model = TorchCharLM(66, 64, 32, 2, dropout=0.25, stateful=True)
    >>> tuple(model(torch.ones(2, 5, dtype=torch.long)).shape)
    (2, 5, 66)
    >>> tuple(model.state[0].shape)
    (2, 2, 32)
    >>> gru = TorchCharLM(66, 64, 32, 2, stateful=True, cell="gru")
    >>> _ = gru(torch.ones(2, 5, dtype=torch.long)), gru(torch.ones(2, 5, dtype=torch.long))
    >>> tuple(gru.state[0].shape)
    (2, 2, 32)
    """

    def __init__(self, vocab_size, embedding_dim, units, num_layers, dropout=0.0, stateful=False, cell="lstm"):
        super().__init__()
        self.stateful = stateful
        self.state = None
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.input_dropout = nn.Dropout(dropout)
        self.rnn = RECURRENT_LAYERS[cell](embedding_dim, units, num_layers=num_layers, batch_first=True,
                                          dropout=dropout if num_layers > 1 else 0.0)
        self.output_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(units, vocab_size)

    def forward(self, ids):
        carried = None
        if self.stateful and self.state is not None and self.state[0].shape[1] == ids.shape[0]:
            # The LSTM's state is (h, c); the GRU's and RNN's is h alone.
            carried = self.state if isinstance(self.rnn, nn.LSTM) else self.state[0]
        outputs, state = self.rnn(self.input_dropout(self.embedding(ids)), carried)
        if self.stateful:
            # Truncated BPTT: the next batch starts from this state, with no gradient through it.
            self.state = tuple(part.detach() for part in (state if isinstance(state, tuple) else (state,)))
        return self.head(self.output_dropout(outputs))


class TorchBiLSTMClassifier(nn.Module):
    """Embedding → BiLSTM layers over packed (unpadded) sequences → Linear.

    Packing is PyTorch's masking: padded steps are skipped, as Keras' mask does.

    Example:

    >>> model = TorchBiLSTMClassifier(100, 8, 4, num_layers=2, num_classes=2)
    >>> tuple(model(torch.tensor([[5, 6, 0], [7, 8, 9]])).shape)
    (2, 2)
    """

    def __init__(self, vocab_size, embedding_dim, units, num_layers, num_classes, packed=True):
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.rnn = nn.LSTM(embedding_dim, units, num_layers=num_layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * units, num_classes)

    def forward(self, ids):
        x = self.embedding(ids)
        if self.packed:
            lengths = (ids != 0).sum(dim=1).clamp(min=1).cpu()
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(x)
        return self.head(torch.cat([h[-2], h[-1]], dim=1))


class TorchBidirectionalMaxPoolClassifier(nn.Module):
    """Embedding → bidirectional LSTM or GRU over packed sequences → max over the real steps → Linear.

    The `kerasrnn train sentiment` default architecture. Packing is PyTorch's
    masking (padded steps are skipped, as Keras' mask does); the padded
    outputs are set to -inf before the max, as `MaskedGlobalMaxPooling1D` does.

    Args:
        vocab_size: word ids, padding (0) included.
        embedding_dim: size of the word embeddings.
        units: recurrent units per direction.
        num_classes: output logits.
        cell: `"lstm"` (the default, as in `kerasrnn train sentiment`), `"gru"` or `"simple_rnn"`.

    Example:

    >>> model = TorchBidirectionalMaxPoolClassifier(100, 8, 4, 2)
    >>> tuple(model(torch.tensor([[5, 6, 0], [7, 8, 9]])).shape)
    (2, 2)
    """

    def __init__(self, vocab_size, embedding_dim, units, num_classes, cell="lstm"):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.rnn = RECURRENT_LAYERS[cell](embedding_dim, units, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * units, num_classes)

    def forward(self, ids):
        lengths = (ids != 0).sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, padding_value=float("-inf"),
                                         total_length=ids.shape[1])
        return self.head(outputs.max(dim=1).values)


class TorchBiLSTMTagger(nn.Module):
    """Embedding → BiLSTM (or BiGRU, BiRNN) over packed sequences → Linear per token (the word-level tagger).

    Args:
        vocab_size: word ids, padding (0) included.
        embedding_dim: size of the word embeddings.
        units: recurrent units per direction.
        num_tags: output logits per token.
        cell: `"lstm"` (the default, as in `kerasrnn train pos_tagger`), `"gru"` or `"simple_rnn"`.

    Example:

    >>> model = TorchBiLSTMTagger(100, 8, 4, num_tags=18)
    >>> tuple(model(torch.tensor([[5, 6, 0], [7, 8, 9]])).shape)
    (2, 3, 18)
    >>> type(TorchBiLSTMTagger(100, 8, 4, num_tags=18, cell="gru").rnn).__name__
    'GRU'
    """

    def __init__(self, vocab_size, embedding_dim, units, num_tags, cell="lstm"):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.rnn = RECURRENT_LAYERS[cell](embedding_dim, units, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * units, num_tags)

    def forward(self, ids):
        lengths = (ids != 0).sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        outputs, _ = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=ids.shape[1])
        return self.head(outputs)


def torch_train_step(model, optimizer, loss_of, global_clipnorm=None):
    """One optimizer step; `loss_of(model)` computes the loss on the batch.

    Args:
        model: a PyTorch module.
        optimizer: its optimizer.
        loss_of: `loss_of(model)` returns the batch's loss.
        global_clipnorm: clip all gradients together to this norm (Keras' `global_clipnorm`).

    Example:

    >>> model = TorchCharLM(10, 4, 4, 1)
    >>> optimizer = torch.optim.Adam(model.parameters())
    >>> ids = torch.ones(2, 3, dtype=torch.long)
    >>> loss = torch_train_step(model, optimizer, lambda m: m(ids).sum())
    >>> isinstance(loss, float)
    True
    """
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(model)
    loss.backward()
    if global_clipnorm:
        nn.utils.clip_grad_norm_(model.parameters(), global_clipnorm)
    optimizer.step()
    return float(loss.detach())


def torch_training_pass(reference, batches, onednn=True, model=None, loss_of=None):
    """Return `one_pass()`: Adam steps over `batches` with the reference's PyTorch model and loss (unless given).

    Args:
        reference: a `benchmarks.references.Reference` (its learning rate and global clip norm are used).
        batches: a list of `(ids, targets)` NumPy batches.
        onednn: run PyTorch's CPU LSTM through oneDNN (its default) or its native kernel.
        model: a PyTorch model to train instead of `reference.torch_model()`.
        loss_of: `loss_of(logits, ids, targets)` instead of `reference.torch_loss`.

    Example:

    >>> from benchmarks.references import pos_reference
    >>> import numpy as np
    >>> one_pass = torch_training_pass(pos_reference(), [(np.array([[3, 4, 0]]), np.array([[1, 2, 0]]))])
    >>> one_pass()
    """
    model = model or reference.torch_model()
    loss_of = loss_of or reference.torch_loss
    optimizer = torch.optim.Adam(model.parameters(), lr=reference.learning_rate)
    tensors = [(torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))) for x, y in batches]

    def one_pass():
        model.train()
        # PyTorch's CPU LSTM goes through oneDNN by default; its native kernel
        # is faster for some shapes on this CPU, so both are measured and
        # kerasrnn is compared with the faster.
        with torch.backends.mkldnn.flags(enabled=onednn):
            for x, y in tensors:
                torch_train_step(model, optimizer, lambda m: loss_of(m(x), x, y), reference.global_clipnorm)

    return one_pass


def flush_subnormals_in_every_thread():
    """Flush subnormal floats to zero in PyTorch, as TensorFlow does by default.

    Call it before PyTorch's first parallel operation: `torch.set_flush_denormal`
    sets the calling thread's floating-point flags, and PyTorch's OpenMP worker
    threads copy them only when they are created. Set later, the workers keep
    computing on subnormal numbers, which this CPU does in slow microcode.

    Example:

    >>> flush_subnormals_in_every_thread()
    True
    """
    return torch.set_flush_denormal(True)
