// The one place cuDNN is included. We use cuDNN's classic ("legacy") convolution API, which
// cuDNN 9 marks deprecated yet still ships and supports in every 9.x release (see conv.cu for
// why it beats the graph API here). cuDNN only attaches the deprecation attributes when
// CUDNN_WARN_DEPRECATED is defined (cudnn_graph.h); this header makes sure it is not, so a
// global -DCUDNN_WARN_DEPRECATED cannot turn our deliberate uses into a wall of warnings.
// Attributes fire at each call site, so a #pragma around the #include would not silence them;
// controlling the macro here, before the first include, does.
#pragma once

#ifdef CUDNN_WARN_DEPRECATED
#undef CUDNN_WARN_DEPRECATED
#endif
#include <cudnn.h>
