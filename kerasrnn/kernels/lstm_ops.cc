// Fused LSTM sequence kernels for kerasrnn's FastLSTM (CPU, float32).
//
// KerasrnnLstmForward runs the whole recurrence in one op: per time step one
// matmul h_{t-1} @ U plus the gate math fused in one pass over the row
// (Keras' gate order i, f, c, o; sigmoid / tanh). The input projection
// x @ W + b is done by the caller for all steps at once.
//
// KerasrnnLstmBackward walks time in reverse: per step the fused elementwise
// gate derivatives and one matmul dGates @ U^T. The weight gradient
// dU = H_prev^T . dGates is ONE matmul over all (batch * time) rows, left to
// TensorFlow's MatMul by the Python gradient: it measured 240 ms against
// 410 ms for Eigen's transposed-operand contraction here (512 x 6400 x 2048).
//
// Why an op at all: in a TF while loop each step runs ~15 small ops, each
// with executor and allocation overhead, and the backward loop recomputes and
// stacks per-step weight gradients. Here a step is one contraction plus one
// cache-friendly loop.
//
// Matmuls go through Eigen tensor contractions on the op's ThreadPoolDevice
// (the intra-op pool, so every core is used) unless `parallel=false`, which
// keeps them on the calling thread (measured for comparison).
//
// KerasrnnLstmMaskedForward / KerasrnnLstmMaskedBackward are the same kernels
// with one more input, a (batch, time) bool mask: at a masked step the state
// is carried over unchanged, as in Keras' loop (`where(mask, new, old)`).
// They are separate ops, not an attr, so unmasked calls never read a mask.
// Only the states are the op's business: the outputs Keras gives masked
// steps (zeros, or the previous output) are formed by the caller from them.

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

#ifdef KERASRNN_PROFILE
#include <chrono>
#include <cstdio>
#define PROFILE_NOW() std::chrono::steady_clock::now()
#define PROFILE_ADD(total, since) \
  total += std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count()
#else
#define PROFILE_NOW() 0
#define PROFILE_ADD(total, since) (void)since
#endif

namespace kerasrnn {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Index = Eigen::Index;
using ConstMat = Eigen::TensorMap<Eigen::Tensor<const float, 2, Eigen::RowMajor>>;
using Mat = Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>>;
using Row = Eigen::Map<Eigen::ArrayXf>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf>;

// out (m, n) = a (m, k) . b (k, n), or with b transposed: b is (n, k).
template <typename Out, typename A, typename B>
void Contract(const Eigen::ThreadPoolDevice& device, bool parallel, Out out, const A& a, const B& b,
              bool transpose_b) {
  const Eigen::array<Eigen::IndexPair<int>, 1> normal = {Eigen::IndexPair<int>(1, 0)};
  const Eigen::array<Eigen::IndexPair<int>, 1> transposed = {Eigen::IndexPair<int>(1, 1)};
  const auto& dims = transpose_b ? transposed : normal;
  if (parallel) {
    out.device(device) = a.contract(b, dims);
  } else {
    out = a.contract(b, dims);
  }
}

// Runs f(begin, end) over [0, rows), split across the pool when parallel.
template <typename F>
void ForRows(const Eigen::ThreadPoolDevice& device, bool parallel, Index rows, double cost_per_row,
             const F& f) {
  if (!parallel || rows < 2) {
    f(0, rows);
    return;
  }
  device.parallelFor(rows, Eigen::TensorOpCost(0, 0, cost_per_row), f);
}

absl::Status CheckRank(const Tensor& t, int rank, const char* name, const char* expected) {
  if (t.dims() != rank) {
    return InvalidArgument("`", name, "` must have rank ", rank, " ", expected, ". Received shape ",
                           t.shape().DebugString());
  }
  return absl::OkStatus();
}

// Checks the shared inputs; sets batch, time, units.
absl::Status CheckLstmInputs(const Tensor& projected, const Tensor& h0, const Tensor& c0,
                                   const Tensor& kernel, Index* batch, Index* time, Index* units) {
  TF_RETURN_IF_ERROR(CheckRank(kernel, 2, "recurrent_kernel", "(units, 4 * units)"));
  const Index h = kernel.dim_size(0);
  if (kernel.dim_size(1) != 4 * h) {
    return InvalidArgument("`recurrent_kernel` must have shape (units, 4 * units). Received shape ",
                           kernel.shape().DebugString());
  }
  TF_RETURN_IF_ERROR(CheckRank(projected, 3, "projected", "(batch, time, 4 * units)"));
  if (projected.dim_size(2) != 4 * h) {
    return InvalidArgument("`projected` must have shape (batch, time, 4 * units) = (batch, time, ",
                           4 * h, ") to match `recurrent_kernel`. Received shape ",
                           projected.shape().DebugString());
  }
  const Index b = projected.dim_size(0);
  for (const auto& named : {std::make_pair("h0", &h0), std::make_pair("c0", &c0)}) {
    const Tensor& state = *named.second;
    if (state.dims() != 2 || state.dim_size(0) != b || state.dim_size(1) != h) {
      return InvalidArgument("`", named.first, "` must have shape (batch, units) = (", b, ", ", h,
                             "). Received shape ", state.shape().DebugString());
    }
  }
  *batch = b;
  *time = projected.dim_size(1);
  *units = h;
  return absl::OkStatus();
}

absl::Status CheckMask(const Tensor& mask, Index batch, Index time) {
  if (mask.dims() != 2 || mask.dim_size(0) != batch || mask.dim_size(1) != time) {
    return InvalidArgument("`mask` must have shape (batch, time) = (", batch, ", ", time,
                           "). Received shape ", mask.shape().DebugString());
  }
  return absl::OkStatus();
}

// The mask input (the last one) when kMasked, else nullptr: every step runs.
template <bool kMasked>
absl::Status MaskData(OpKernelContext* context, Index batch, Index time, const bool** mask) {
  *mask = nullptr;
  if (!kMasked) return absl::OkStatus();
  const Tensor& tensor = context->input(context->num_inputs() - 1);
  TF_RETURN_IF_ERROR(CheckMask(tensor, batch, time));
  *mask = tensor.flat<bool>().data();
  return absl::OkStatus();
}

template <bool kMasked>
class LstmForwardOp : public OpKernel {
 public:
  explicit LstmForwardOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("parallel", &parallel_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& projected = context->input(0);
    const Tensor& h0 = context->input(1);
    const Tensor& c0 = context->input(2);
    const Tensor& kernel = context->input(3);
    Index B, T, H;
    OP_REQUIRES_OK(context, CheckLstmInputs(projected, h0, c0, kernel, &B, &T, &H));
    const Index G = 4 * H;
    const bool* M;
    OP_REQUIRES_OK(context, MaskData<kMasked>(context, B, T, &M));

    Tensor *h_out, *c_out, *gates_out;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({B, T, H}), &h_out));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({B, T, H}), &c_out));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({B, T, G}), &gates_out));
    if (B == 0 || T == 0 || H == 0) return;

    Tensor h_buf, z_buf;  // h_{t-1} contiguous for the matmul; z = h_{t-1} @ U
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), &h_buf));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, G}), &z_buf));

    const auto& device = context->eigen_device<Eigen::ThreadPoolDevice>();
    const float* P = projected.flat<float>().data();
    const float* h0p = h0.flat<float>().data();
    const float* c0p = c0.flat<float>().data();
    float* Hs = h_out->flat<float>().data();
    float* Cs = c_out->flat<float>().data();
    float* Gs = gates_out->flat<float>().data();
    float* hb = h_buf.flat<float>().data();
    float* z = z_buf.flat<float>().data();
    ConstMat U(kernel.flat<float>().data(), H, G);
    std::memcpy(hb, h0p, sizeof(float) * B * H);

    double matmul_s = 0, gates_s = 0;
    for (Index t = 0; t < T; ++t) {
      auto start = PROFILE_NOW();
      Contract(device, parallel_, Mat(z, B, G), ConstMat(hb, B, H), U, false);
      PROFILE_ADD(matmul_s, start);
      start = PROFILE_NOW();
      ForRows(device, parallel_, B, 60.0 * G, [&](Index begin, Index end) {
        for (Index b = begin; b < end; ++b) {
          const Index row = b * T + t;
          const float* p = P + row * G;
          const float* zr = z + b * G;
          float* g = Gs + row * G;
          const float* c_prev = t == 0 ? c0p + b * H : Cs + (row - 1) * H;
          if (kMasked && !M[row]) {
            // hb still holds h_{t-1}. The gates are never read back for a
            // masked step; zeros keep the output deterministic.
            std::memcpy(Hs + row * H, hb + b * H, sizeof(float) * H);
            std::memcpy(Cs + row * H, c_prev, sizeof(float) * H);
            std::fill_n(g, G, 0.0f);
            continue;
          }
          Row i(g, H), f(g + H, H), cc(g + 2 * H, H), o(g + 3 * H, H);
          i = (ConstRow(zr, H) + ConstRow(p, H)).logistic();
          f = (ConstRow(zr + H, H) + ConstRow(p + H, H)).logistic();
          cc = (ConstRow(zr + 2 * H, H) + ConstRow(p + 2 * H, H)).tanh();
          o = (ConstRow(zr + 3 * H, H) + ConstRow(p + 3 * H, H)).logistic();
          Row c(Cs + row * H, H), h(Hs + row * H, H);
          c = f * ConstRow(c_prev, H) + i * cc;
          h = o * c.tanh();
          std::memcpy(hb + b * H, Hs + row * H, sizeof(float) * H);
        }
      });
      PROFILE_ADD(gates_s, start);
    }
#ifdef KERASRNN_PROFILE
    std::fprintf(stderr, "forward: matmul %.1f ms, gates %.1f ms\n", 1e3 * matmul_s, 1e3 * gates_s);
#endif
  }

 private:
  bool parallel_;
};

template <bool kMasked>
class LstmBackwardOp : public OpKernel {
 public:
  explicit LstmBackwardOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("parallel", &parallel_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& h0 = context->input(0);
    const Tensor& c0 = context->input(1);
    const Tensor& kernel = context->input(2);
    const Tensor& hs = context->input(3);
    const Tensor& cs = context->input(4);
    const Tensor& gates = context->input(5);
    const Tensor& dhs = context->input(6);
    const Tensor& dcs = context->input(7);
    Index B, T, H;
    // `gates` has the projected inputs' shape, so it checks the same way.
    OP_REQUIRES_OK(context, CheckLstmInputs(gates, h0, c0, kernel, &B, &T, &H));
    const Index G = 4 * H;
    const bool* M;
    OP_REQUIRES_OK(context, MaskData<kMasked>(context, B, T, &M));
    const TensorShape state_seq({B, T, H});
    for (const auto& named : {std::make_pair("h", &hs), std::make_pair("c", &cs),
                              std::make_pair("dh", &dhs), std::make_pair("dc", &dcs)}) {
      OP_REQUIRES(context, named.second->shape() == state_seq,
                  InvalidArgument("`", named.first, "` must have shape ", state_seq.DebugString(),
                                  ". Received shape ", named.second->shape().DebugString()));
    }

    Tensor *d_projected, *dh0, *dc0;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({B, T, G}), &d_projected));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({B, H}), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({B, H}), &dc0));
    float* dh_rec = dh0->flat<float>().data();  // dL/dh_{t} through the recurrence
    float* dc_next = dc0->flat<float>().data();  // dL/dc_{t} through the recurrence
    std::fill_n(dh_rec, B * H, 0.0f);
    std::fill_n(dc_next, B * H, 0.0f);
    if (B == 0 || T == 0 || H == 0) return;

    Tensor dz_buf, carry_buf;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, G}), &dz_buf));
    // dL/dh_t of the rows masked at step t, which the matmul below would
    // overwrite: it is dL/dh_{t-1} as it stands (h_t is h_{t-1}).
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({kMasked ? B : 0, H}),
                                                   &carry_buf));
    float* carry = carry_buf.flat<float>().data();

    const auto& device = context->eigen_device<Eigen::ThreadPoolDevice>();
    const float* c0p = c0.flat<float>().data();
    const float* Hs = hs.flat<float>().data();
    const float* Cs = cs.flat<float>().data();
    const float* Gs = gates.flat<float>().data();
    const float* dHs = dhs.flat<float>().data();
    const float* dCs = dcs.flat<float>().data();
    float* dZ = d_projected->flat<float>().data();
    float* dz = dz_buf.flat<float>().data();
    // U^T once, so every step's dGates @ U^T is a plain (B, 4H) x (4H, H)
    // contraction (the transposed-operand contraction measured slower).
    Tensor kernel_t;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({G, H}), &kernel_t));
    Mat UT(kernel_t.flat<float>().data(), G, H);
    const Eigen::array<int, 2> swap = {1, 0};
    UT.device(device) = ConstMat(kernel.flat<float>().data(), H, G).shuffle(swap);

    double matmul_s = 0, gates_s = 0;
    for (Index t = T - 1; t >= 0; --t) {
      auto start = PROFILE_NOW();
      ForRows(device, parallel_, B, 80.0 * G, [&](Index begin, Index end) {
        for (Index b = begin; b < end; ++b) {
          const Index row = b * T + t;
          const float* g = Gs + row * G;
          const float* c_prev = t == 0 ? c0p + b * H : Cs + (row - 1) * H;
          const float* c_t = Cs + row * H;
          const float* dh_out = dHs + row * H;
          const float* dc_out = dCs + row * H;
          float* dh_r = dh_rec + b * H;
          float* dc_r = dc_next + b * H;
          float* out = dz + b * G;
          if (kMasked && !M[row]) {
            // h_t, c_t are h_{t-1}, c_{t-1}: their gradients go straight to
            // the previous step, and none reaches this step's gates.
            for (Index j = 0; j < H; ++j) {
              carry[b * H + j] = dh_out[j] + dh_r[j];
              dc_r[j] += dc_out[j];
            }
            std::fill_n(out, G, 0.0f);
            std::fill_n(dZ + row * G, G, 0.0f);
            continue;
          }
          // tanh(c_t) first (vectorized by Eigen), into the o-gate slot of
          // `out`, which is overwritten last.
          Row(out + 3 * H, H) = ConstRow(c_t, H).tanh();
          for (Index j = 0; j < H; ++j) {
            const float i = g[j], f = g[H + j], cc = g[2 * H + j], o = g[3 * H + j];
            const float tanh_c = out[3 * H + j];
            const float dh = dh_out[j] + dh_r[j];
            const float dc = dc_out[j] + dc_r[j] + dh * o * (1.0f - tanh_c * tanh_c);
            out[j] = dc * cc * i * (1.0f - i);
            out[H + j] = dc * c_prev[j] * f * (1.0f - f);
            out[2 * H + j] = dc * i * (1.0f - cc * cc);
            out[3 * H + j] = dh * tanh_c * o * (1.0f - o);
            dc_r[j] = dc * f;
          }
          std::memcpy(dZ + row * G, out, sizeof(float) * G);
        }
      });
      PROFILE_ADD(gates_s, start);
      start = PROFILE_NOW();
      // dh_{t-1} through the recurrence = dGates_t @ U^T.
      Contract(device, parallel_, Mat(dh_rec, B, H), ConstMat(dz, B, G), UT, false);
      PROFILE_ADD(matmul_s, start);
      if (kMasked) {
        for (Index b = 0; b < B; ++b) {
          if (!M[b * T + t]) std::memcpy(dh_rec + b * H, carry + b * H, sizeof(float) * H);
        }
      }
    }

#ifdef KERASRNN_PROFILE
    std::fprintf(stderr, "backward: matmul %.1f ms, gates %.1f ms\n", 1e3 * matmul_s, 1e3 * gates_s);
#endif
  }

 private:
  bool parallel_;
};

absl::Status ForwardShape(InferenceContext* c) {
  ShapeHandle projected, h0, c0, kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &projected));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &h0));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &c0));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &kernel));
  DimensionHandle batch = c->Dim(projected, 0), time = c->Dim(projected, 1), units = c->Dim(kernel, 0);
  TF_RETURN_IF_ERROR(c->Merge(batch, c->Dim(h0, 0), &batch));
  TF_RETURN_IF_ERROR(c->Merge(units, c->Dim(h0, 1), &units));
  TF_RETURN_IF_ERROR(c->Merge(batch, c->Dim(c0, 0), &batch));
  TF_RETURN_IF_ERROR(c->Merge(units, c->Dim(c0, 1), &units));
  DimensionHandle gates;
  TF_RETURN_IF_ERROR(c->Multiply(units, 4, &gates));
  TF_RETURN_IF_ERROR(c->Merge(gates, c->Dim(kernel, 1), &gates));
  TF_RETURN_IF_ERROR(c->Merge(gates, c->Dim(projected, 2), &gates));
  if (c->num_inputs() > 4) {  // the masked op's mask
    ShapeHandle mask;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &mask));
    TF_RETURN_IF_ERROR(c->Merge(batch, c->Dim(mask, 0), &batch));
    TF_RETURN_IF_ERROR(c->Merge(time, c->Dim(mask, 1), &time));
  }
  c->set_output(0, c->MakeShape({batch, time, units}));
  c->set_output(1, c->MakeShape({batch, time, units}));
  c->set_output(2, c->MakeShape({batch, time, gates}));
  return absl::OkStatus();
}

absl::Status BackwardShape(InferenceContext* c) {
  ShapeHandle kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &kernel));
  ShapeHandle gates;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 3, &gates));
  c->set_output(0, gates);
  c->set_output(1, c->input(0));
  c->set_output(2, c->input(1));
  return absl::OkStatus();
}

// The inputs, outputs and attrs the masked ops share with the plain ones
// (the masked ops add `mask` last).
#define KERASRNN_LSTM_FORWARD_SIGNATURE \
  .Input("projected: float")            \
  .Input("h0: float")                   \
  .Input("c0: float")                   \
  .Input("recurrent_kernel: float")     \
  .Output("h: float")                   \
  .Output("c: float")                   \
  .Output("gates: float")               \
  .Attr("parallel: bool = true")        \
  .SetShapeFn(ForwardShape)
#define KERASRNN_LSTM_BACKWARD_SIGNATURE \
  .Input("h0: float")                    \
  .Input("c0: float")                    \
  .Input("recurrent_kernel: float")      \
  .Input("h: float")                     \
  .Input("c: float")                     \
  .Input("gates: float")                 \
  .Input("dh: float")                    \
  .Input("dc: float")                    \
  .Output("d_projected: float")          \
  .Output("dh0: float")                  \
  .Output("dc0: float")                  \
  .Attr("parallel: bool = true")         \
  .SetShapeFn(BackwardShape)

REGISTER_OP("KerasrnnLstmForward")
    KERASRNN_LSTM_FORWARD_SIGNATURE
    .Doc(R"doc(
LSTM over a whole sequence from pre-projected inputs (Keras gate order i, f, c, o).

projected: (batch, time, 4 * units), x @ kernel + bias for every step.
h0: (batch, units) initial hidden state.
c0: (batch, units) initial cell state.
recurrent_kernel: (units, 4 * units).
h: (batch, time, units) hidden state after every step.
c: (batch, time, units) cell state after every step.
gates: (batch, time, 4 * units) gate activations, for the backward op.
)doc");

REGISTER_OP("KerasrnnLstmBackward")
    KERASRNN_LSTM_BACKWARD_SIGNATURE
    .Doc(R"doc(
Gradient of KerasrnnLstmForward given the gradients of its h and c outputs,
except the recurrent kernel's: that is ONE matmul over all steps,
h_prev^T . d_projected, which the caller runs as TensorFlow's MatMul.
)doc");

REGISTER_OP("KerasrnnLstmMaskedForward")
    KERASRNN_LSTM_FORWARD_SIGNATURE
    .Input("mask: bool")
    .Doc(R"doc(
KerasrnnLstmForward where a step whose mask is false leaves h and c as they
were (the step's h and c are the previous step's, h0 and c0 at step 0), as
Keras' masked loop does. The outputs Keras gives masked steps are not formed here.

mask: (batch, time), true for the steps that run.
)doc");

REGISTER_OP("KerasrnnLstmMaskedBackward")
    KERASRNN_LSTM_BACKWARD_SIGNATURE
    .Input("mask: bool")
    .Doc(R"doc(
Gradient of KerasrnnLstmMaskedForward (as KerasrnnLstmBackward); `mask` is its mask.
)doc");

REGISTER_KERNEL_BUILDER(Name("KerasrnnLstmForward").Device(DEVICE_CPU), LstmForwardOp<false>);
REGISTER_KERNEL_BUILDER(Name("KerasrnnLstmBackward").Device(DEVICE_CPU), LstmBackwardOp<false>);
REGISTER_KERNEL_BUILDER(Name("KerasrnnLstmMaskedForward").Device(DEVICE_CPU), LstmForwardOp<true>);
REGISTER_KERNEL_BUILDER(Name("KerasrnnLstmMaskedBackward").Device(DEVICE_CPU), LstmBackwardOp<true>);

}  // namespace kerasrnn
