// LSTM sequence ops backed by oneDNN's LSTM primitive, for kerasrnn's FastLSTM
// on unmasked sequences (CPU, float32).
//
// KerasrnnOnednnLstmForward runs a whole unidirectional LSTM layer (input
// projection, recurrence, gates) as one oneDNN `lstm_forward` (training
// propagation: it also returns the workspace the backward pass needs);
// KerasrnnOnednnLstmBackward is its gradient, one `lstm_backward`. This is the
// primitive PyTorch's CPU `nn.LSTM` runs: it packs the weights once per call
// and runs its own GEMM kernels, which the Eigen contractions of lstm_ops.cc
// cannot reach (measured on the char LM's 2x512 layers: see
// benchmarks/RESULTS.md). Masked sequences stay on lstm_ops.cc: oneDNN's RNN
// primitive has no per-step mask.
//
// Layouts are Keras': inputs and outputs batch-major (batch, time, features)
// (oneDNN's `ntc`); kernel (features, 4 * units) and recurrent_kernel
// (units, 4 * units) are oneDNN's `ldigo` with one layer and one direction,
// and the gate order is the same in both (i, f, c, o; sigmoid, tanh).
// Weights are reordered into the primitive's own formats on every call,
// because TensorFlow owns (and the optimizer updates) the variables.

#include <cstring>
#include <string>

#include "oneapi/dnnl/dnnl.hpp"
#include "onednn_common.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace kerasrnn {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;

using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Sizes {
  int64_t batch, time, features, units;
};

// Checks inputs 0-5 (inputs, h0, c0, kernel, recurrent_kernel, bias) of both ops.
absl::Status CheckInputs(OpKernelContext* context, Sizes* sizes) {
  const Tensor& inputs = context->input(0);
  const Tensor& recurrent_kernel = context->input(4);
  if (inputs.dims() != 3) {
    return InvalidArgument("`inputs` must have rank 3 (batch, time, features). Received shape ",
                           inputs.shape().DebugString());
  }
  if (recurrent_kernel.dims() != 2) {
    return InvalidArgument("`recurrent_kernel` must have rank 2 (units, 4 * units). Received shape ",
                           recurrent_kernel.shape().DebugString());
  }
  Sizes s{inputs.dim_size(0), inputs.dim_size(1), inputs.dim_size(2), recurrent_kernel.dim_size(0)};
  TF_RETURN_IF_ERROR(CheckShape(recurrent_kernel, {s.units, 4 * s.units}, "recurrent_kernel", "(units, 4 * units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(1), {s.batch, s.units}, "h0", "(batch, units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(2), {s.batch, s.units}, "c0", "(batch, units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(3), {s.features, 4 * s.units}, "kernel", "(features, 4 * units)"));
  TF_RETURN_IF_ERROR(CheckShape(context->input(5), {4 * s.units}, "bias", "(4 * units,)"));
  *sizes = s;
  return absl::OkStatus();
}

// The memory descriptors of one layer, in Keras' layouts.
struct Descriptors {
  explicit Descriptors(const Sizes& s)
      : layer_input({s.time, s.batch, s.features}, dt::f32, tag::ntc),
        layer_output({s.time, s.batch, s.units}, dt::f32, tag::ntc),
        state({1, 1, s.batch, s.units}, dt::f32, tag::ldnc),
        kernel({1, 1, s.features, 4, s.units}, dt::f32, tag::ldigo),
        recurrent_kernel({1, 1, s.units, 4, s.units}, dt::f32, tag::ldigo),
        kernel_any({1, 1, s.features, 4, s.units}, dt::f32, tag::any),
        recurrent_kernel_any({1, 1, s.units, 4, s.units}, dt::f32, tag::any),
        bias({1, 1, 4, s.units}, dt::f32, tag::ldgo) {}

  dnnl::lstm_forward::primitive_desc Forward() const {
    return dnnl::lstm_forward::primitive_desc(
        Engine(), dnnl::prop_kind::forward_training, dnnl::rnn_direction::unidirectional_left2right,
        layer_input, state, state, kernel_any, recurrent_kernel_any, bias, layer_output, state, state);
  }

  dnnl::memory::desc layer_input, layer_output, state, kernel, recurrent_kernel, kernel_any,
      recurrent_kernel_any, bias;
};

class OnednnLstmForwardOp : public OpKernel {
 public:
  explicit OnednnLstmForwardOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    Sizes s;
    OP_REQUIRES_OK(context, CheckInputs(context, &s));
    Tensor *h, *h_last, *c_last, *workspace;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({s.batch, s.time, s.units}), &h));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({s.batch, s.units}), &h_last));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({s.batch, s.units}), &c_last));
    if (s.batch == 0 || s.time == 0 || s.units == 0 || s.features == 0) {
      OP_REQUIRES(context, s.time != 0 || s.batch == 0 || s.units == 0,
                  InvalidArgument("`inputs` has 0 time steps; an LSTM needs at least one."));
      OP_REQUIRES(context, s.features != 0 || s.batch == 0 || s.units == 0,
                  InvalidArgument("`inputs` has 0 features; the oneDNN LSTM needs at least one."));
      OP_REQUIRES_OK(context, context->allocate_output(3, TensorShape({0}), &workspace));
      return;
    }
    ThreadsForCall threads(s.batch * 4 * s.units * s.units);  // one step's recurrent multiply-adds
    try {
      Descriptors d(s);
      auto forward = d.Forward();
      OP_REQUIRES_OK(context, context->allocate_output(
                                  3, TensorShape({static_cast<int64_t>(forward.workspace_desc().get_size())}),
                                  &workspace));
      dnnl::stream stream(Engine());
      auto kernel = Reordered(stream, Wrap(d.kernel, context->input(3)), forward.weights_layer_desc());
      auto recurrent_kernel =
          Reordered(stream, Wrap(d.recurrent_kernel, context->input(4)), forward.weights_iter_desc());
      dnnl::lstm_forward(forward).execute(
          stream, {{DNNL_ARG_SRC_LAYER, Wrap(d.layer_input, context->input(0))},
                   {DNNL_ARG_SRC_ITER, Wrap(d.state, context->input(1))},
                   {DNNL_ARG_SRC_ITER_C, Wrap(d.state, context->input(2))},
                   {DNNL_ARG_WEIGHTS_LAYER, kernel},
                   {DNNL_ARG_WEIGHTS_ITER, recurrent_kernel},
                   {DNNL_ARG_BIAS, Wrap(d.bias, context->input(5))},
                   {DNNL_ARG_DST_LAYER, Wrap(d.layer_output, *h)},
                   {DNNL_ARG_DST_ITER, Wrap(d.state, *h_last)},
                   {DNNL_ARG_DST_ITER_C, Wrap(d.state, *c_last)},
                   {DNNL_ARG_WORKSPACE, Wrap(forward.workspace_desc(), *workspace)}});
      stream.wait();
    } catch (const dnnl::error& error) {
      context->CtxFailure(tensorflow::errors::Internal("oneDNN LSTM forward failed: ", error.what()));
    }
  }
};

class OnednnLstmBackwardOp : public OpKernel {
 public:
  explicit OnednnLstmBackwardOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    Sizes s;
    OP_REQUIRES_OK(context, CheckInputs(context, &s));
    OP_REQUIRES_OK(context, CheckShape(context->input(6), {s.batch, s.time, s.units}, "h", "(batch, time, units)"));
    for (int i : {7, 8, 11, 12}) {
      OP_REQUIRES_OK(context, CheckShape(context->input(i), {s.batch, s.units},
                                         i == 7 ? "h_last" : i == 8 ? "c_last" : i == 11 ? "dh_last" : "dc_last",
                                         "(batch, units)"));
    }
    OP_REQUIRES_OK(context, CheckShape(context->input(10), {s.batch, s.time, s.units}, "dh", "(batch, time, units)"));
    Tensor *d_inputs, *dh0, *dc0, *d_kernel, *d_recurrent_kernel, *d_bias;
    OP_REQUIRES_OK(context, context->allocate_output(0, context->input(0).shape(), &d_inputs));
    OP_REQUIRES_OK(context, context->allocate_output(1, context->input(1).shape(), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, context->input(2).shape(), &dc0));
    OP_REQUIRES_OK(context, context->allocate_output(3, context->input(3).shape(), &d_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(4, context->input(4).shape(), &d_recurrent_kernel));
    OP_REQUIRES_OK(context, context->allocate_output(5, context->input(5).shape(), &d_bias));
    if (s.batch == 0 || s.time == 0 || s.units == 0 || s.features == 0) {
      for (Tensor* out : {d_inputs, dh0, dc0, d_kernel, d_recurrent_kernel, d_bias}) {
        std::memset(const_cast<char*>(out->tensor_data().data()), 0, out->tensor_data().size());
      }
      return;
    }
    ThreadsForCall threads(s.batch * 4 * s.units * s.units);  // one step's recurrent multiply-adds
    try {
      Descriptors d(s);
      auto forward = d.Forward();
      const Tensor& workspace = context->input(9);
      OP_REQUIRES(context, workspace.dims() == 1 &&
                               static_cast<size_t>(workspace.NumElements()) == forward.workspace_desc().get_size(),
                  InvalidArgument("`workspace` must be the forward op's workspace of ",
                                  forward.workspace_desc().get_size(), " bytes. Received shape ",
                                  workspace.shape().DebugString()));
      auto backward = dnnl::lstm_backward::primitive_desc(
          Engine(), dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right,
          d.layer_input, d.state, d.state, d.kernel_any, d.recurrent_kernel_any, d.bias, d.layer_output,
          d.state, d.state, d.layer_input, d.state, d.state, d.kernel_any, d.recurrent_kernel_any, d.bias,
          d.layer_output, d.state, d.state, forward);
      dnnl::stream stream(Engine());
      auto kernel = Reordered(stream, Wrap(d.kernel, context->input(3)), backward.weights_layer_desc());
      auto recurrent_kernel =
          Reordered(stream, Wrap(d.recurrent_kernel, context->input(4)), backward.weights_iter_desc());
      // lstm_backward ADDS to the weight gradients: start them at zero.
      WeightGradient d_kernel_packed(backward.diff_weights_layer_desc(), d.kernel, d_kernel);
      WeightGradient d_recurrent_packed(backward.diff_weights_iter_desc(), d.recurrent_kernel, d_recurrent_kernel);
      auto d_bias_memory = Wrap(d.bias, *d_bias);
      Zero(d_bias_memory);
      dnnl::lstm_backward(backward).execute(
          stream, {{DNNL_ARG_SRC_LAYER, Wrap(d.layer_input, context->input(0))},
                   {DNNL_ARG_SRC_ITER, Wrap(d.state, context->input(1))},
                   {DNNL_ARG_SRC_ITER_C, Wrap(d.state, context->input(2))},
                   {DNNL_ARG_WEIGHTS_LAYER, kernel},
                   {DNNL_ARG_WEIGHTS_ITER, recurrent_kernel},
                   {DNNL_ARG_BIAS, Wrap(d.bias, context->input(5))},
                   {DNNL_ARG_DST_LAYER, Wrap(d.layer_output, context->input(6))},
                   {DNNL_ARG_DST_ITER, Wrap(d.state, context->input(7))},
                   {DNNL_ARG_DST_ITER_C, Wrap(d.state, context->input(8))},
                   {DNNL_ARG_WORKSPACE, Wrap(forward.workspace_desc(), workspace)},
                   {DNNL_ARG_DIFF_DST_LAYER, Wrap(d.layer_output, context->input(10))},
                   {DNNL_ARG_DIFF_DST_ITER, Wrap(d.state, context->input(11))},
                   {DNNL_ARG_DIFF_DST_ITER_C, Wrap(d.state, context->input(12))},
                   {DNNL_ARG_DIFF_SRC_LAYER, Wrap(d.layer_input, *d_inputs)},
                   {DNNL_ARG_DIFF_SRC_ITER, Wrap(d.state, *dh0)},
                   {DNNL_ARG_DIFF_SRC_ITER_C, Wrap(d.state, *dc0)},
                   {DNNL_ARG_DIFF_WEIGHTS_LAYER, d_kernel_packed.memory()},
                   {DNNL_ARG_DIFF_WEIGHTS_ITER, d_recurrent_packed.memory()},
                   {DNNL_ARG_DIFF_BIAS, d_bias_memory}});
      d_kernel_packed.CopyToOutput(stream);
      d_recurrent_packed.CopyToOutput(stream);
      stream.wait();
    } catch (const dnnl::error& error) {
      context->CtxFailure(tensorflow::errors::Internal("oneDNN LSTM backward failed: ", error.what()));
    }
  }
};

absl::Status ForwardShape(InferenceContext* c) { return SequenceForwardShape(c, 4, 2); }

REGISTER_OP("KerasrnnOnednnLstmForward")
    .Input("inputs: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Output("h: float")
    .Output("h_last: float")
    .Output("c_last: float")
    .Output("workspace: uint8")
    .SetShapeFn(ForwardShape)
    .Doc(R"doc(
A unidirectional LSTM layer over a whole sequence, by oneDNN (Keras' gate order i, f, c, o).

inputs: (batch, time, features).
h0: (batch, units) initial hidden state.
c0: (batch, units) initial cell state.
kernel: (features, 4 * units), Keras' LSTM kernel.
recurrent_kernel: (units, 4 * units).
bias: (4 * units,).
h: (batch, time, units) hidden state after every step.
h_last: (batch, units) hidden state after the last step.
c_last: (batch, units) cell state after the last step.
workspace: what oneDNN keeps for the backward op (bytes).
)doc");

REGISTER_OP("KerasrnnOnednnLstmBackward")
    .Input("inputs: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("h: float")
    .Input("h_last: float")
    .Input("c_last: float")
    .Input("workspace: uint8")
    .Input("dh: float")
    .Input("dh_last: float")
    .Input("dc_last: float")
    .Output("d_inputs: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("d_kernel: float")
    .Output("d_recurrent_kernel: float")
    .Output("d_bias: float")
    .SetShapeFn(GradientShapes)
    .Doc(R"doc(
Gradient of KerasrnnOnednnLstmForward with respect to its six inputs, given the
gradients of its h, h_last and c_last outputs.
)doc");

REGISTER_KERNEL_BUILDER(Name("KerasrnnOnednnLstmForward").Device(DEVICE_CPU), OnednnLstmForwardOp);
REGISTER_KERNEL_BUILDER(Name("KerasrnnOnednnLstmBackward").Device(DEVICE_CPU), OnednnLstmBackwardOp);

}  // namespace kerasrnn
