#include "handlers/return.h"

namespace askr::handlers {

void serve_return(const config::Route& route, http::Response& resp) {
  resp.status = route.status;
  if (!route.location.empty()) resp.add("Location", route.location);
  if (!route.body.empty()) {
    resp.set_inline(route.body, "text/plain; charset=utf-8");
  } else if (route.status >= 300) {
    resp.set_inline(http::error_body(route.status), "text/plain; charset=utf-8");
  }
}

}  // namespace askr::handlers
