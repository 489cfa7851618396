// GRU and SimpleRNN sequence ops backed by oneDNN's recurrent primitives, for
// kerasrnn's FastGRU and FastSimpleRNN (CPU, float32, unmasked sequences;
// the layers handle right-padded masks around them).
//
// KerasrnnOnednnRnnForward runs a whole unidirectional layer of one of the
// single-state cells (input projection, recurrence, gates) as one oneDNN
// primitive with training propagation (it also returns the workspace the
// backward pass needs); KerasrnnOnednnRnnBackward is its gradient. The
// `cell` attribute picks the primitive:
//
// - "gru": `lbr_gru_forward` / `lbr_gru_backward`, the linear-before-reset
//   GRU, which is Keras' `GRU(reset_after=True)` (its default). The gate
//   order is the same in both (update z, reset r, candidate h), and so is
//   the update h_t = z * h_{t-1} + (1 - z) * candidate. oneDNN's bias has
//   four vectors (z, r, the candidate's input bias, the candidate's
//   recurrent bias, which the reset gate scales): the Python wrapper
//   (gru_onednn_op.py) builds it from Keras' (2, 3 * units) bias.
// - "rnn_tanh", "rnn_relu": `vanilla_rnn_forward` / `vanilla_rnn_backward`,
//   Keras' SimpleRNN with that activation (one gate, one bias vector).
//
// Layouts are Keras': inputs and outputs batch-major (oneDNN's `ntc`);
// kernel (features, gates * units) and recurrent_kernel (units, gates *
// units) are oneDNN's `ldigo` with one layer and one direction. The helpers
// shared with the LSTM op are in onednn_common.h.

#include <string>

#include "oneapi/dnnl/dnnl.hpp"
#include "onednn_common.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace kerasrnn {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Sizes {
  int64_t batch, time, features, units;
};

// The memory descriptors of one layer, in Keras' layouts.
struct Descriptors {
  Descriptors(const Sizes& s, int64_t gates, int64_t bias_gates)
      : layer_input({s.time, s.batch, s.features}, dt::f32, tag::ntc),
        layer_output({s.time, s.batch, s.units}, dt::f32, tag::ntc),
        state({1, 1, s.batch, s.units}, dt::f32, tag::ldnc),
        kernel({1, 1, s.features, gates, s.units}, dt::f32, tag::ldigo),
        recurrent_kernel({1, 1, s.units, gates, s.units}, dt::f32, tag::ldigo),
        kernel_any({1, 1, s.features, gates, s.units}, dt::f32, tag::any),
        recurrent_kernel_any({1, 1, s.units, gates, s.units}, dt::f32, tag::any),
        bias({1, 1, bias_gates, s.units}, dt::f32, tag::ldgo) {}

  dnnl::memory::desc layer_input, layer_output, state, kernel, recurrent_kernel, kernel_any, recurrent_kernel_any,
      bias;
};

constexpr auto kDirection = dnnl::rnn_direction::unidirectional_left2right;

// The two cells differ only in how their primitive descriptors are made.
struct LinearBeforeResetGru {
  using Forward = dnnl::lbr_gru_forward;
  using Backward = dnnl::lbr_gru_backward;
  static constexpr int64_t kGates = 3, kBiasGates = 4;

  static Forward::primitive_desc MakeForward(const Descriptors& d, dnnl::algorithm) {
    return Forward::primitive_desc(Engine(), dnnl::prop_kind::forward_training, kDirection, d.layer_input, d.state,
                                   d.kernel_any, d.recurrent_kernel_any, d.bias, d.layer_output, d.state);
  }

  static Backward::primitive_desc MakeBackward(const Descriptors& d, dnnl::algorithm,
                                               const Forward::primitive_desc& forward) {
    return Backward::primitive_desc(Engine(), dnnl::prop_kind::backward, kDirection, d.layer_input, d.state,
                                    d.kernel_any, d.recurrent_kernel_any, d.bias, d.layer_output, d.state,
                                    d.layer_input, d.state, d.kernel_any, d.recurrent_kernel_any, d.bias,
                                    d.layer_output, d.state, forward);
  }
};

struct VanillaRnn {
  using Forward = dnnl::vanilla_rnn_forward;
  using Backward = dnnl::vanilla_rnn_backward;
  static constexpr int64_t kGates = 1, kBiasGates = 1;

  static Forward::primitive_desc MakeForward(const Descriptors& d, dnnl::algorithm activation) {
    return Forward::primitive_desc(Engine(), dnnl::prop_kind::forward_training, activation, kDirection,
                                   d.layer_input, d.state, d.kernel_any, d.recurrent_kernel_any, d.bias,
                                   d.layer_output, d.state);
  }

  static Backward::primitive_desc MakeBackward(const Descriptors& d, dnnl::algorithm activation,
                                               const Forward::primitive_desc& forward) {
    return Backward::primitive_desc(Engine(), dnnl::prop_kind::backward, activation, kDirection, d.layer_input,
                                    d.state, d.kernel_any, d.recurrent_kernel_any, d.bias, d.layer_output,
                                    d.state, d.layer_input, d.state, d.kernel_any, d.recurrent_kernel_any, d.bias,
                                    d.layer_output, d.state, forward);
  }
};

// The `cell` attribute, read once when the op is constructed.
struct CellChoice {
  explicit CellChoice(OpKernelConstruction* context) {
    std::string cell;
    OP_REQUIRES_OK(context, context->GetAttr("cell", &cell));
    gru = cell == "gru";
    activation = cell == "rnn_relu" ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_tanh;
  }
  int64_t gates() const { return gru ? LinearBeforeResetGru::kGates : VanillaRnn::kGates; }
  int64_t bias_gates() const { return gru ? LinearBeforeResetGru::kBiasGates : VanillaRnn::kBiasGates; }

  bool gru = false;
  dnnl::algorithm activation = dnnl::algorithm::eltwise_tanh;
};

// Checks inputs 0-4 (inputs, h0, kernel, recurrent_kernel, bias) of both ops.
absl::Status CheckInputs(OpKernelContext* context, const CellChoice& cell, Sizes* sizes) {
  const Tensor& inputs = context->input(0);
  const Tensor& recurrent_kernel = context->input(3);
  if (inputs.dims() != 3) {
    return InvalidArgument("`inputs` must have rank 3 (batch, time, features). Received shape ",
                           inputs.shape().DebugString());
  }
  if (recurrent_kernel.dims() != 2) {
    return InvalidArgument("`recurrent_kernel` must have rank 2 (units, gates * units). Received shape ",
                           recurrent_kernel.shape().DebugString());
  }
  const int64_t gates = cell.gates(), bias_gates = cell.bias_gates();
  Sizes s{inputs.dim_size(0), inputs.dim_size(1), inputs.dim_size(2), recurrent_kernel.dim_size(0)};
  TF_RETURN_IF_ERROR(
      CheckShape(recurrent_kernel, {s.units, gates * s.units}, "recurrent_kernel", "(units, gates * units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(1), {s.batch, s.units}, "h0", "(batch, units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(2), {s.features, gates * s.units}, "kernel", "(features, gates * units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(4), {bias_gates * s.units}, "bias", "(bias_gates * units,)"));
  *sizes = s;
  return absl::OkStatus();
}

bool Empty(const Sizes& s) { return s.batch == 0 || s.time == 0 || s.units == 0 || s.features == 0; }

// Multiply-adds of one step's recurrence, which picks the call's threads (ThreadsForCall).
int64_t StepWork(const Sizes& s, const CellChoice& cell) { return s.batch * cell.gates() * s.units * s.units; }

template <typename Cell>
void RunForward(OpKernelContext* context, const Sizes& s, dnnl::algorithm activation, Tensor* h, Tensor* h_last) {
  Descriptors d(s, Cell::kGates, Cell::kBiasGates);
  auto forward = Cell::MakeForward(d, activation);
  Tensor* workspace;
  OP_REQUIRES_OK(context, context->allocate_output(
                              2, TensorShape({static_cast<int64_t>(forward.workspace_desc().get_size())}),
                              &workspace));
  dnnl::stream stream(Engine());
  auto kernel = Reordered(stream, Wrap(d.kernel, context->input(2)), forward.weights_layer_desc());
  auto recurrent_kernel = Reordered(stream, Wrap(d.recurrent_kernel, context->input(3)), forward.weights_iter_desc());
  typename Cell::Forward(forward).execute(
      stream, {{DNNL_ARG_SRC_LAYER, Wrap(d.layer_input, context->input(0))},
               {DNNL_ARG_SRC_ITER, Wrap(d.state, context->input(1))},
               {DNNL_ARG_WEIGHTS_LAYER, kernel},
               {DNNL_ARG_WEIGHTS_ITER, recurrent_kernel},
               {DNNL_ARG_BIAS, Wrap(d.bias, context->input(4))},
               {DNNL_ARG_DST_LAYER, Wrap(d.layer_output, *h)},
               {DNNL_ARG_DST_ITER, Wrap(d.state, *h_last)},
               {DNNL_ARG_WORKSPACE, Wrap(forward.workspace_desc(), *workspace)}});
  stream.wait();
}

template <typename Cell>
void RunBackward(OpKernelContext* context, const Sizes& s, dnnl::algorithm activation, Tensor* d_inputs,
                 Tensor* dh0, Tensor* d_kernel, Tensor* d_recurrent_kernel, Tensor* d_bias) {
  Descriptors d(s, Cell::kGates, Cell::kBiasGates);
  auto forward = Cell::MakeForward(d, activation);
  const Tensor& workspace = context->input(7);
  OP_REQUIRES(context,
              workspace.dims() == 1 &&
                  static_cast<size_t>(workspace.NumElements()) == forward.workspace_desc().get_size(),
              InvalidArgument("`workspace` must be the forward op's workspace of ", forward.workspace_desc().get_size(),
                              " bytes. Received shape ", workspace.shape().DebugString()));
  auto backward = Cell::MakeBackward(d, activation, forward);
  dnnl::stream stream(Engine());
  auto kernel = Reordered(stream, Wrap(d.kernel, context->input(2)), backward.weights_layer_desc());
  auto recurrent_kernel = Reordered(stream, Wrap(d.recurrent_kernel, context->input(3)), backward.weights_iter_desc());
  // The backward primitive ADDS to the weight gradients: start them at zero.
  WeightGradient d_kernel_packed(backward.diff_weights_layer_desc(), d.kernel, d_kernel);
  WeightGradient d_recurrent_packed(backward.diff_weights_iter_desc(), d.recurrent_kernel, d_recurrent_kernel);
  auto d_bias_memory = Wrap(d.bias, *d_bias);
  Zero(d_bias_memory);
  typename Cell::Backward(backward).execute(
      stream, {{DNNL_ARG_SRC_LAYER, Wrap(d.layer_input, context->input(0))},
               {DNNL_ARG_SRC_ITER, Wrap(d.state, context->input(1))},
               {DNNL_ARG_WEIGHTS_LAYER, kernel},
               {DNNL_ARG_WEIGHTS_ITER, recurrent_kernel},
               {DNNL_ARG_BIAS, Wrap(d.bias, context->input(4))},
               {DNNL_ARG_DST_LAYER, Wrap(d.layer_output, context->input(5))},
               {DNNL_ARG_DST_ITER, Wrap(d.state, context->input(6))},
               {DNNL_ARG_WORKSPACE, Wrap(forward.workspace_desc(), workspace)},
               {DNNL_ARG_DIFF_DST_LAYER, Wrap(d.layer_output, context->input(8))},
               {DNNL_ARG_DIFF_DST_ITER, Wrap(d.state, context->input(9))},
               {DNNL_ARG_DIFF_SRC_LAYER, Wrap(d.layer_input, *d_inputs)},
               {DNNL_ARG_DIFF_SRC_ITER, Wrap(d.state, *dh0)},
               {DNNL_ARG_DIFF_WEIGHTS_LAYER, d_kernel_packed.memory()},
               {DNNL_ARG_DIFF_WEIGHTS_ITER, d_recurrent_packed.memory()},
               {DNNL_ARG_DIFF_BIAS, d_bias_memory}});
  d_kernel_packed.CopyToOutput(stream);
  d_recurrent_packed.CopyToOutput(stream);
  stream.wait();
}

class OnednnRnnForwardOp : public OpKernel {
 public:
  explicit OnednnRnnForwardOp(OpKernelConstruction* context) : OpKernel(context), cell_(context) {}

  void Compute(OpKernelContext* context) override {
    Sizes s;
    OP_REQUIRES_OK(context, CheckInputs(context, cell_, &s));
    Tensor *h, *h_last;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({s.batch, s.time, s.units}), &h));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({s.batch, s.units}), &h_last));
    if (Empty(s)) {
      OP_REQUIRES(context, s.time != 0 || s.batch == 0 || s.units == 0,
                  InvalidArgument("`inputs` has 0 time steps; a recurrent layer needs at least one."));
      OP_REQUIRES(context, s.features != 0 || s.batch == 0 || s.units == 0,
                  InvalidArgument("`inputs` has 0 features; the oneDNN recurrent op needs at least one."));
      Tensor* workspace;
      OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({0}), &workspace));
      return;
    }
    ThreadsForCall threads(StepWork(s, cell_));
    try {
      if (cell_.gru) {
        RunForward<LinearBeforeResetGru>(context, s, cell_.activation, h, h_last);
      } else {
        RunForward<VanillaRnn>(context, s, cell_.activation, h, h_last);
      }
    } catch (const dnnl::error& error) {
      context->CtxFailure(tensorflow::errors::Internal("oneDNN recurrent forward failed: ", error.what()));
    }
  }

 private:
  CellChoice cell_;
};

class OnednnRnnBackwardOp : public OpKernel {
 public:
  explicit OnednnRnnBackwardOp(OpKernelConstruction* context) : OpKernel(context), cell_(context) {}

  void Compute(OpKernelContext* context) override {
    Sizes s;
    OP_REQUIRES_OK(context, CheckInputs(context, cell_, &s));
    for (int i : {5, 8}) {
      OP_REQUIRES_OK(context, CheckShape(context->input(i), {s.batch, s.time, s.units}, i == 5 ? "h" : "dh",
                                         "(batch, time, units)"));
    }
    for (int i : {6, 9}) {
      OP_REQUIRES_OK(context, CheckShape(context->input(i), {s.batch, s.units}, i == 6 ? "h_last" : "dh_last",
                                         "(batch, units)"));
    }
    Tensor* outputs[5];
    for (int i = 0; i < 5; ++i) {
      OP_REQUIRES_OK(context, context->allocate_output(i, context->input(i).shape(), &outputs[i]));
    }
    if (Empty(s)) {
      for (Tensor* out : outputs) {
        std::memset(const_cast<char*>(out->tensor_data().data()), 0, out->tensor_data().size());
      }
      return;
    }
    ThreadsForCall threads(StepWork(s, cell_));
    try {
      if (cell_.gru) {
        RunBackward<LinearBeforeResetGru>(context, s, cell_.activation, outputs[0], outputs[1], outputs[2],
                                          outputs[3], outputs[4]);
      } else {
        RunBackward<VanillaRnn>(context, s, cell_.activation, outputs[0], outputs[1], outputs[2], outputs[3],
                                outputs[4]);
      }
    } catch (const dnnl::error& error) {
      context->CtxFailure(tensorflow::errors::Internal("oneDNN recurrent backward failed: ", error.what()));
    }
  }

 private:
  CellChoice cell_;
};

absl::Status ForwardShape(InferenceContext* c) { return SequenceForwardShape(c, 3, 1); }

}  // namespace

REGISTER_OP("KerasrnnOnednnRnnForward")
    .Input("inputs: float")
    .Input("h0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Output("h: float")
    .Output("h_last: float")
    .Output("workspace: uint8")
    .Attr("cell: {'gru', 'rnn_tanh', 'rnn_relu'}")
    .SetShapeFn(ForwardShape)
    .Doc(R"doc(
A unidirectional GRU (linear-before-reset, Keras' reset_after=True) or SimpleRNN
layer over a whole sequence, by oneDNN (Keras' gate order z, r, h).

inputs: (batch, time, features).
h0: (batch, units) initial state.
kernel: (features, gates * units), Keras' kernel (3 gates for a GRU, 1 for a SimpleRNN).
recurrent_kernel: (units, gates * units).
bias: (4 * units,) for a GRU: z and r (input plus recurrent bias), the candidate's
  input bias, the candidate's recurrent bias; (units,) for a SimpleRNN.
h: (batch, time, units) state after every step.
h_last: (batch, units) state after the last step.
workspace: what oneDNN keeps for the backward op (bytes).
cell: "gru", or "rnn_tanh" / "rnn_relu" for a SimpleRNN with that activation.
)doc");

REGISTER_OP("KerasrnnOnednnRnnBackward")
    .Input("inputs: float")
    .Input("h0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("h: float")
    .Input("h_last: float")
    .Input("workspace: uint8")
    .Input("dh: float")
    .Input("dh_last: float")
    .Output("d_inputs: float")
    .Output("dh0: float")
    .Output("d_kernel: float")
    .Output("d_recurrent_kernel: float")
    .Output("d_bias: float")
    .Attr("cell: {'gru', 'rnn_tanh', 'rnn_relu'}")
    .SetShapeFn(GradientShapes)
    .Doc(R"doc(
Gradient of KerasrnnOnednnRnnForward with respect to its five inputs, given the
gradients of its h and h_last outputs.
)doc");

REGISTER_KERNEL_BUILDER(Name("KerasrnnOnednnRnnForward").Device(DEVICE_CPU), OnednnRnnForwardOp);
REGISTER_KERNEL_BUILDER(Name("KerasrnnOnednnRnnBackward").Device(DEVICE_CPU), OnednnRnnBackwardOp);

}  // namespace kerasrnn
