// The `return` handler: a fixed status, optional Location and body, from the route's config.
#pragma once

#include "http/response.h"
#include "shared/config/config.h"

namespace askr::handlers {

void serve_return(const config::Route& route, http::Response& resp);

}  // namespace askr::handlers
