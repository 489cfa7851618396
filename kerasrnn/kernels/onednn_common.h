// What kerasrnn's oneDNN recurrent ops share (lstm_onednn_ops.cc,
// gru_onednn_ops.cc): the CPU engine, shape checks with Keras' names, the
// floating-point mode of oneDNN's threads, and wrapping TensorFlow tensors
// as oneDNN memories. Header-only: each op library is compiled from one .cc
// file (kerasrnn/kernels/lstm_op.py hashes the headers a source includes into
// its cache key, so an edit here rebuilds every library that uses it).

#ifndef KERASRNN_KERNELS_ONEDNN_COMMON_H_
#define KERASRNN_KERNELS_ONEDNN_COMMON_H_

#include <cstring>
#include <initializer_list>
#include <string>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "oneapi/dnnl/dnnl.hpp"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace kerasrnn {

// One CPU engine for the process: creating one is not free, and primitives
// are thread-safe to execute on separate streams.
inline const dnnl::engine& Engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

inline absl::Status CheckShape(const tensorflow::Tensor& t, std::initializer_list<int64_t> expected,
                               const char* name, const char* meaning) {
  bool ok = t.dims() == static_cast<int>(expected.size());
  int i = 0;
  for (int64_t size : expected) {
    ok = ok && t.dim_size(i++) == size;
  }
  if (!ok) {
    std::string want;
    for (int64_t size : expected) want += (want.empty() ? "" : ", ") + std::to_string(size);
    return tensorflow::errors::InvalidArgument("`", name, "` must have shape ", meaning, " = (", want,
                                               "). Received shape ", t.shape().DebugString());
  }
  return absl::OkStatus();
}

// oneDNN computes on its OpenMP worker threads, which TensorFlow never
// sets up: give them the floating-point mode TensorFlow runs this op in
// (it flushes subnormal numbers to zero, which this CPU otherwise handles
// in slow microcode, as a recurrent layer's backward pass meets them).
inline void ShareFloatingPointMode() {
#if defined(__SSE__) && defined(_OPENMP)
  const unsigned int mode = _mm_getcsr();
#pragma omp parallel
  _mm_setcsr(mode);
#endif
}

inline dnnl::memory Wrap(const dnnl::memory::desc& desc, const tensorflow::Tensor& tensor) {
  // oneDNN takes non-const handles; the forward pass only reads its inputs.
  return dnnl::memory(desc, Engine(), const_cast<char*>(tensor.tensor_data().data()));
}

// `user` (Keras' layout) reordered into a new memory of the primitive's `desc`.
inline dnnl::memory Reordered(dnnl::stream& stream, dnnl::memory user, const dnnl::memory::desc& desc) {
  if (user.get_desc() == desc) return user;
  dnnl::memory packed(desc, Engine());
  dnnl::reorder(user, packed).execute(stream, user, packed);
  return packed;
}

// Zeros every byte of `memory` (oneDNN's backward passes add to the weight gradients).
inline void Zero(dnnl::memory& memory) { std::memset(memory.get_data_handle(), 0, memory.get_desc().get_size()); }

// Shape function of a forward op: inputs 0 (batch, time, features) and
// `recurrent_kernel_input` (units, gates * units); outputs the states of every
// step (batch, time, units), `final_states` states (batch, units) and a
// workspace of bytes.
inline absl::Status SequenceForwardShape(tensorflow::shape_inference::InferenceContext* c, int recurrent_kernel_input,
                                         int final_states) {
  tensorflow::shape_inference::ShapeHandle inputs, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(recurrent_kernel_input), 2, &recurrent_kernel));
  auto batch = c->Dim(inputs, 0), units = c->Dim(recurrent_kernel, 0);
  c->set_output(0, c->MakeShape({batch, c->Dim(inputs, 1), units}));
  for (int i = 1; i <= final_states; ++i) c->set_output(i, c->MakeShape({batch, units}));
  c->set_output(final_states + 1, c->Vector(c->UnknownDim()));
  return absl::OkStatus();
}

// Shape function of a backward op: its outputs are the gradients of the
// forward op's inputs, each shaped as that input (the first ones).
inline absl::Status GradientShapes(tensorflow::shape_inference::InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->input(i));
  return absl::OkStatus();
}

}  // namespace kerasrnn

#endif  // KERASRNN_KERNELS_ONEDNN_COMMON_H_
