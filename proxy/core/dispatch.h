// The request core: a protocol-neutral request in, the handler that answers it out. Routing
// (host -> site -> route -> action) and the choice of handler live here, so that HTTP/1.1 and
// HTTP/2 connections, plaintext or TLS, serve the same sites the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/pool_client.h"
#include "core/router.h"
#include "handlers/file_cache.h"
#include "handlers/php.h"
#include "handlers/stream.h"
#include "http/request.h"
#include "http/response.h"
#include "http/sink.h"

namespace askr::core {

// What a loop lends the request core. Shared by the loop's connections and touched only by its
// thread.
struct LoopServices {
  // The router the loop takes before each request: a reload's roots serve every request that
  // starts after it. Null: `router` is the only one.
  const LiveRouter* live_router = nullptr;
  const Router* router = nullptr;  // held_router's, when there is a live_router
  std::shared_ptr<const Router> held_router;
  uint64_t router_seen = 0;

  // Takes the router published last, when it is not the one held: before each request, and on
  // the loop's tick so that an idle loop lets the old roots go too.
  void refresh_router() {
    if (live_router && live_router->refresh(held_router, router_seen)) router = held_router.get();
  }
  handlers::FileCache* file_cache = nullptr;  // may be null
  std::vector<std::unique_ptr<backend::PoolClient>>* pools = nullptr;
  const handlers::PhpLimits* php_limits = nullptr;
  std::string scratch;   // reused by handlers for paths
  int https_port = 443;  // where redirect_https points
};

// The protocol's side of a request that is answered over time.
struct Responder {
  http::ResponseSink& sink;
  http::BodyProducer& body_source;  // told when the handler can take more of the body
};

// Normalizes the request's path once, routes it and picks its handler. Either fills `resp`
// (static files, `return` routes, errors) and returns null, or returns the Stream that will
// answer through `to`: the protocol then sets up reading the body and calls start(). `req`
// must stay alive and unchanged until the response is complete. A path that does not normalize
// is answered 400 with `req.refused` saying why, for the protocol to log and count.
std::unique_ptr<handlers::Stream> dispatch(http::Request& req, LoopServices& loop,
                                           http::Response& resp, Responder to);

}  // namespace askr::core
