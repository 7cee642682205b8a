#!/usr/bin/env bash
# PHP application servers, side by side: nginx + php-fpm against Askr's own askr-worker pools,
# in classic mode (every request runs its script from scratch, as php-fpm does) and in worker
# mode (a worker script boots the application once and serves requests in a loop through
# askr_handle_request()), on loopback, in one run.
#
#   bench/php.sh
#
# Servers, each with WORKERS PHP processes, opcache on:
#   fpm       nginx (THREADS workers) -> php-fpm (Debian's php8.2-fpm, pm = static), fastcgi_pass
#             unix:SOCK, a new FastCGI connection per request (nginx's default)
#   classic   askr-proxy (threads = THREADS) with an askr-worker pool, mode = "classic"
#   worker    askr-proxy (threads = THREADS) with an askr-worker pool, mode = "worker"
# Apps (APPS picks them):
#   hello     /index.php: echo "Hello, world!\n"; in worker mode a worker script that boots
#             nothing and echoes the same line from its handler
#   app       /section-37/item/42 through a front controller: a generated framework-sized
#             application (about 300 classes in 300 files behind a PSR-4 autoloader, a container
#             that autowires and builds 200 services by reflection, a router with 101 routes
#             compiled at boot, configuration from 6 files, a controller rendering ~5 KB of HTML
#             with templates). php-fpm and classic mode run the whole bootstrap on every request
#             (front.php); worker mode boots once (workers/app.php) and only handles requests.
#   symfony   /hello/bench on the Symfony 5.4 app of tests/apps/symfony (Debian's
#             php-symfony-framework-bundle): public/index.php, or worker.php in worker mode
#   laravel   /hello/bench on the Laravel 8 app of tests/apps/laravel (php-laravel-framework),
#             the same way
#   wordpress / of Debian's WordPress 6.1 on a private MariaDB (pinned with the servers),
#             installed by the script as tests/integration/apps_test.cc does; no worker mode
#
# Measures, for each server and app:
#   1. requests/s, p50 and p99 latency with wrk (keep-alive clients);
#   2. CPU time per request: run time of the server's processes (nginx master and worker;
#      askr-proxy) and of the PHP processes (php-fpm master and children; askr-proxy's
#      askr-worker children) during the wrk run, divided by the requests completed;
#   3. PSS per PHP process (smaps_rollup) at the end of each measured run;
#   4. where an Askr PHP request's time goes, queued / in PHP / in I/O, from the per-pool totals
#      askr-proxy logs when it stops;
#   5. system calls per request on the front (nginx worker, askr-proxy) and the PHP side
#      (php-fpm children, askr-worker processes): strace -c -f on a separate short run.
#
# PHP settings are the same everywhere: php-fpm reads PHP_INI, and every active line of PHP_INI
# is given to the Askr pools as [pool.ini] (askr-worker reads no php.ini; both load the same
# extensions from Debian's conf.d). A check script reports, through each server, whether
# opcache_get_status() works and the settings that matter here; the report shows them.
#
# Only one server runs at a time: each measurement starts its server (and php-fpm for nginx),
# warms it up, runs wrk and stops it again, so every server starts with a cold opcache.
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]       cores the servers (nginx, askr-proxy) are pinned to (taskset list)
#   PHP_CPUS [SERVER_CPUS]  cores the PHP processes (php-fpm master and children; askr-worker
#                         zygote and workers, started through a taskset wrapper given to
#                         askr-proxy as ASKR_WORKER_BIN) and MariaDB are pinned to
#   THREADS [1]           askr-proxy loop threads and nginx worker processes (one per server
#                         core: give the front as many cores as it needs to keep PHP the limit)
#   CLIENT_CPUS [0]       cores wrk is pinned to
#   WORKERS [4]           PHP processes: php-fpm pm.max_children, Askr pool workers
#   WRK_THREADS [1]       wrk -t
#   CONNS [16]            wrk -c
#   DURATION [10]         seconds per wrk run
#   WARMUP [2]            seconds of wrk before each measured run (not counted)
#   ROUNDS [3]            interleaved rounds per server and app; the median is reported
#   ASKR_BIN [build/proxy/askr-proxy]   the askr-proxy binary under test
#   ASKR_WORKER_BIN [askr-worker in ../worker/ next to ASKR_BIN]   the askr-worker binary
#   ASKR_REV [the repository's HEAD]     what the binaries were built from, for the report,
#                         when it is not this checkout
#   NGINX [nginx]         the nginx binary
#   PHP_FPM [/usr/sbin/php-fpm8.2]      the php-fpm binary
#   PHP_INI [/etc/php/8.2/fpm/php.ini]  php.ini for php-fpm, and the Askr pools' [pool.ini]
#   PHP_CLI [php8.2]      PHP CLI that generates the app and renders the reference page
#   OUT [bench/results-php.md]          where the markdown report is written (overwritten)
#   APPS [hello app symfony laravel wordpress]   the apps measured, in this order
#   STRACE_DURATION [3]   seconds of the traced wrk run per server and app (0: no strace pass,
#                         for a machine without strace)
# A quick check that the script works (the figures then mean nothing):
#   DURATION=2 ROUNDS=1 WARMUP=1 STRACE_DURATION=1 APPS=symfony bench/php.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

SERVER_CPUS="${SERVER_CPUS:-1}"
PHP_CPUS="${PHP_CPUS:-$SERVER_CPUS}"
CLIENT_CPUS="${CLIENT_CPUS:-0}"
THREADS="${THREADS:-1}"
WORKERS="${WORKERS:-4}"
WRK_THREADS="${WRK_THREADS:-1}"
CONNS="${CONNS:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-3}"
ASKR_BIN="${ASKR_BIN:-$repo/build/proxy/askr-proxy}"
ASKR_WORKER_BIN="${ASKR_WORKER_BIN:-$(dirname "$ASKR_BIN")/../worker/askr-worker}"
ASKR_REV="${ASKR_REV:-}"
NGINX="${NGINX:-nginx}"
PHP_FPM="${PHP_FPM:-/usr/sbin/php-fpm8.2}"
PHP_INI="${PHP_INI:-/etc/php/8.2/fpm/php.ini}"
PHP_CLI="${PHP_CLI:-php8.2}"
OUT="${OUT:-$here/results-php.md}"
APPS="${APPS:-hello app symfony laravel wordpress}"
STRACE_DURATION="${STRACE_DURATION:-3}"
WP_HOST=askr-bench-wp.test

. "$here/lib.sh"
bench_name=php.sh

# ---------------------------------------------------------------------------------------------
# Prerequisites.
"$repo/scripts/deps.sh" bench
command -v python3 >/dev/null || die "python3 is required"
for c in curl taskset pgrep "${WRK:-wrk}" "$NGINX"; do
  command -v "$c" >/dev/null || die "$c is required (bench/carry.sh carries curl, wrk and nginx)"
done
[ "$STRACE_DURATION" = 0 ] || command -v strace >/dev/null ||
  die "strace is required for the system-call pass (STRACE_DURATION=0 skips it)"
command -v "$PHP_CLI" >/dev/null || die "no PHP CLI ($PHP_CLI)"
if [ ! -x "$ASKR_BIN" ] || [ ! -x "$ASKR_WORKER_BIN" ]; then
  echo "building askr-proxy and askr-worker"
  "$repo/scripts/build.sh"
fi
[ -x "$ASKR_BIN" ] || die "no askr-proxy at $ASKR_BIN"
[ -x "$ASKR_WORKER_BIN" ] || die "no askr-worker at $ASKR_WORKER_BIN"
[ -x "$PHP_FPM" ] || die "no php-fpm at $PHP_FPM"
[ -r "$PHP_INI" ] || die "cannot read $PHP_INI"
[ "$(id -u)" -eq 0 ] || die "run as root (nginx runs with 'user root;', php-fpm with -R)"
for a in $APPS; do
  case "$a" in
    hello | app) ;;
    symfony) [ -r /usr/share/php/Symfony/Bundle/FrameworkBundle/autoload.php ] ||
      die "php-symfony-framework-bundle is not installed" ;;
    laravel) [ -r /usr/share/php/Illuminate/autoload.php ] || die "php-laravel-framework is not installed" ;;
    wordpress) [ -r /usr/share/wordpress/wp-config.php ] || die "wordpress is not installed" ;;
    *) die "unknown app '$a' in APPS (hello app symfony laravel wordpress)" ;;
  esac
done
# WordPress reads its site's config from /etc/wordpress/config-HOST.php: in a mount namespace
# of its own the script mounts a private directory there, so that nothing is written to /etc.
if [[ " $APPS " == *" wordpress "* ]] && [ -z "${ASKR_BENCH_MNTNS:-}" ] &&
  unshare --mount --propagation private true 2>/dev/null; then
  ASKR_BENCH_MNTNS=1 exec unshare --mount --propagation private "$0" "$@"
fi

raise_nofile

# ---------------------------------------------------------------------------------------------
# Cleanup on any exit (lib.sh): only the processes this script started, by their PID.
bench_init php.sh askr-bench-php

# stop_pid (lib.sh): askr-proxy stops its askr-worker processes itself; php-fpm its children.

# Private copies of the binaries: a rebuild during the run cannot change what is measured.
mkdir -p "$tmp/bin"
cp "$ASKR_BIN" "$tmp/bin/askr-proxy"
cp "$ASKR_WORKER_BIN" "$tmp/bin/askr-worker"
ASKR_COPY="$tmp/bin/askr-proxy"
ASKR_WORKER_COPY="$tmp/bin/askr-worker"
# What askr-proxy starts as askr-worker: the copy itself, or, where the PHP processes have cores
# of their own, a wrapper that pins it (the zygote; the workers it forks inherit the mask). The
# workers' environment has no PATH (askr-proxy gives them [pool.env] alone): absolute paths.
ASKR_WORKER_RUN="$ASKR_WORKER_COPY"
if [ "$PHP_CPUS" != "$SERVER_CPUS" ]; then
  ASKR_WORKER_RUN="$tmp/bin/askr-worker-pinned"
  printf '#!/bin/sh\nexec %s -c %s %s "$@"\n' "$(command -v taskset)" "$PHP_CPUS" \
    "$ASKR_WORKER_COPY" >"$ASKR_WORKER_RUN"
  chmod 755 "$ASKR_WORKER_RUN"
fi

# Anything else running skews the numbers; say so in the report (lib.sh: load_start).
warn_load

# ---------------------------------------------------------------------------------------------
# The applications.
mkdir -p "$tmp/www" "$tmp/workers" "$tmp/nginx" "$tmp/logs"
cat >"$tmp/www/index.php" <<'PHP'
<?php echo "Hello, world!\n";
PHP
# Worker scripts say on stderr (askr-proxy's log) when their loop ends and after how many
# requests, so that a worker leaving early shows in the report.
cat >"$tmp/workers/hello.php" <<'PHP'
<?php
$handler = static function (): void {
    echo "Hello, world!\n";
};
$served = 0;
while (askr_handle_request($handler)) {
    ++$served;
}
file_put_contents('php://stderr', 'worker ' . getmypid() . " loop ended after $served requests\n");
PHP
# What each server's PHP runs with (checked and reported, not measured).
cat >"$tmp/www/check.php" <<'PHP'
<?php
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo 'opcache_get_status() !== false: ', $s !== false ? 'true' : 'false', "\n";
echo 'opcache_enabled: ', $s !== false && $s['opcache_enabled'] ? 'true' : 'false', "\n";
foreach (['opcache.enable', 'opcache.jit', 'opcache.validate_timestamps', 'opcache.revalidate_freq',
          'opcache.memory_consumption', 'zend.assertions', 'output_buffering', 'memory_limit',
          'error_reporting', 'variables_order', 'max_execution_time', 'realpath_cache_size'] as $k) {
    echo $k, '=', ini_get($k), "\n";
}
PHP
cat >"$tmp/workers/check.php" <<'PHP'
<?php
$handler = static function (): void {
    require __DIR__ . '/../www/check.php';
};
while (askr_handle_request($handler)) {
}
PHP
# The framework-sized application: app/ (outside the document root), www/front.php and
# workers/app.php.
cat >"$tmp/gen.php" <<'GEN'
<?php
// Writes a framework-sized PHP application into the directory named by argv[1]:
//   app/bootstrap.php   PSR-4 autoloader (App\ => app/src/) and app_boot()
//   app/config/*.php    configuration arrays, loaded and merged at boot
//   app/src/...         about 300 classes, one per file
//   app/templates/*.php templates
declare(strict_types=1);

$dir = $argv[1] ?? null;
if ($dir === null) { fwrite(STDERR, "usage: gen.php DIR\n"); exit(2); }
$app = "$dir/app";
const MODULES = 20;          // service modules
const PER_MODULE = 10;       // services per module: 200 services
const CONTROLLERS = 50;      // 2 routes each: 100 routes (+1 status route)
const ENTITIES = 40;

function put(string $path, string $text): void {
    @mkdir(dirname($path), 0755, true);
    file_put_contents($path, $text);
}
function svc(int $g): string { return sprintf('Module%02d\\Service%02d', intdiv($g, PER_MODULE), $g % PER_MODULE); }
function svc_fqcn(int $g): string { return 'App\\Service\\' . svc($g); }
// Constructor dependencies of service g: up to three services with a lower index.
function svc_deps(int $g): array {
    if ($g === 0) return [];
    $c = [$g - 1, intdiv($g, 2), ($g * 7 + 3) % $g];
    return array_slice(array_values(array_unique($c)), 0, 1 + $g % 3);
}
$nServices = MODULES * PER_MODULE;

// ---- bootstrap ------------------------------------------------------------------------------
put("$app/bootstrap.php", <<<'PHP'
<?php
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 4)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

function app_boot(string $dir): App\Kernel
{
    $kernel = new App\Kernel($dir);
    $kernel->boot();
    return $kernel;
}
PHP);

// ---- config ---------------------------------------------------------------------------------
$nav = [];
for ($i = 0; $i < 10; $i++) $nav[] = ['route' => "section{$i}.index", 'label' => "nav.section{$i}"];
put("$app/config/app.php", "<?php\nreturn " . var_export([
    'app' => [
        'name' => 'Askr Bench Shop', 'env' => 'prod', 'debug' => false, 'locale' => 'en',
        'timezone' => 'UTC', 'charset' => 'UTF-8', 'nav' => $nav,
        'currency' => ['code' => 'EUR', 'decimals' => 2, 'dec_point' => '.', 'thousands' => ','],
        'items_per_page' => 12, 'related_items' => 24,
    ],
], true) . ";\n");
put("$app/config/database.php", "<?php\nreturn " . var_export([
    'database' => [
        'default' => 'main',
        'connections' => [
            'main' => ['driver' => 'pgsql', 'host' => '127.0.0.1', 'port' => 5432, 'database' => 'shop', 'username' => 'shop', 'options' => ['timeout' => 5, 'persistent' => false]],
            'replica' => ['driver' => 'pgsql', 'host' => '127.0.0.2', 'port' => 5432, 'database' => 'shop', 'username' => 'shop_ro', 'options' => ['timeout' => 5, 'persistent' => false]],
            'analytics' => ['driver' => 'mysql', 'host' => '127.0.0.3', 'port' => 3306, 'database' => 'stats', 'username' => 'stats', 'options' => ['timeout' => 10]],
        ],
    ],
], true) . ";\n");
put("$app/config/cache.php", "<?php\nreturn " . var_export([
    'cache' => [
        'default' => 'array',
        'stores' => ['array' => ['driver' => 'array'], 'file' => ['driver' => 'file', 'path' => '/tmp/cache'], 'redis' => ['driver' => 'redis', 'host' => '127.0.0.1', 'port' => 6379]],
        'prefix' => 'shop_', 'ttl' => 3600,
    ],
], true) . ";\n");
$services = [];
for ($g = 0; $g < $nServices; $g++) {
    $services[svc_fqcn($g)] = ['seed' => ($g * 7919) % 1000, 'tags' => ['module' . intdiv($g, PER_MODULE), $g % 2 ? 'odd' : 'even'], 'enabled' => true];
}
put("$app/config/services.php", "<?php\nreturn " . var_export(['services' => $services], true) . ";\n");
$routes = [];
for ($c = 0; $c < CONTROLLERS; $c++) {
    $ctl = sprintf('App\\Controller\\Section%02dController', $c);
    $routes[] = ['name' => "section{$c}.index", 'method' => 'GET', 'path' => "/section-{$c}", 'handler' => [$ctl, 'index']];
    $routes[] = ['name' => "section{$c}.show", 'method' => 'GET', 'path' => "/section-{$c}/item/{id:\\d+}", 'handler' => [$ctl, 'show']];
}
$routes[] = ['name' => 'status.opcache', 'method' => 'GET', 'path' => '/_status/opcache', 'handler' => ['App\\Controller\\StatusController', 'opcache']];
put("$app/config/routes.php", "<?php\nreturn " . var_export(['routes' => $routes], true) . ";\n");
$tr = ['title.index' => 'All items in %section%', 'title.show' => '%name% (item %id%)', 'label.price' => 'Price', 'label.stock' => 'In stock', 'label.tags' => 'Tags', 'label.related' => 'Related items', 'footer' => 'Rendered by %app%.'];
for ($i = 0; $i < CONTROLLERS; $i++) { $tr["nav.section{$i}"] = "Section $i"; $tr["section{$i}.description"] = "Everything about section $i, carefully selected for you."; }
for ($i = 0; $i < 100; $i++) $tr["word.$i"] = "word$i";
put("$app/config/translations.php", "<?php\nreturn " . var_export(['translations' => ['en' => $tr]], true) . ";\n");
put("$app/config/view.php", "<?php\nreturn " . var_export(['view' => ['templates' => 'templates', 'globals' => ['site' => 'Askr Bench Shop', 'year' => 2026]]], true) . ";\n");

// ---- core classes ---------------------------------------------------------------------------
$src = "$app/src";
put("$src/Kernel.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App;

use App\Config\Config;
use App\Config\ConfigLoader;
use App\DI\Container;
use App\Http\Request;
use App\Http\Response;
use App\I18n\Translator;
use App\Routing\NotFound;
use App\Routing\Router;
use App\View\View;

final class Kernel
{
    private Container $container;
    private Router $router;

    public function __construct(private readonly string $dir)
    {
    }

    public function boot(): void
    {
        $config = (new ConfigLoader($this->dir . '/config'))->load();
        date_default_timezone_set($config->get('app.timezone', 'UTC'));
        $this->container = new Container();
        $this->container->instance(Config::class, $config);
        $this->container->instance(Container::class, $this->container);
        $this->router = new Router();
        foreach ($config->get('routes') as $r) {
            $this->router->add($r['name'], $r['method'], $r['path'], $r['handler']);
        }
        $this->router->compile();
        $this->container->instance(Router::class, $this->router);
        $this->container->instance(View::class, new View($this->dir . '/' . $config->get('view.templates'), $config->get('view.globals')));
        $this->container->instance(Translator::class, new Translator($config->get('translations.' . $config->get('app.locale')), $config->get('app.locale')));
        foreach ($config->get('services') as $class => $def) {
            if ($def['enabled']) {
                $this->container->register($class);
            }
        }
        $this->container->instantiateAll();
    }

    public function handle(Request $request): Response
    {
        try {
            [$route, $params] = $this->router->match($request->method(), $request->path());
            [$class, $action] = $route->handler;
            $controller = $this->container->get($class);
            return $controller->$action($request, ...$params);
        } catch (NotFound $e) {
            return new Response('<h1>Not found</h1>', 404);
        }
    }
}
PHP);
put("$src/Config/Config.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Config;

final class Config
{
    public function __construct(private array $items)
    {
    }

    public function get(string $key, mixed $default = null): mixed
    {
        $value = $this->items;
        foreach (explode('.', $key) as $part) {
            if (!is_array($value) || !array_key_exists($part, $value)) {
                return $default;
            }
            $value = $value[$part];
        }
        return $value;
    }

    public function all(): array
    {
        return $this->items;
    }
}
PHP);
put("$src/Config/ConfigLoader.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Config;

final class ConfigLoader
{
    public function __construct(private readonly string $dir)
    {
    }

    public function load(): Config
    {
        $items = [];
        $files = glob($this->dir . '/*.php');
        sort($files);
        foreach ($files as $file) {
            $items = array_replace_recursive($items, require $file);
        }
        return new Config($items);
    }
}
PHP);
put("$src/DI/ContainerException.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\DI;

final class ContainerException extends \RuntimeException
{
}
PHP);
put("$src/DI/Container.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\DI;

// Registers classes and builds them on demand, wiring constructor parameters by type
// (reflection-based autowiring).
final class Container
{
    /** @var array<string, object> */
    private array $instances = [];
    /** @var array<string, true> */
    private array $registered = [];
    /** @var array<string, true> */
    private array $building = [];

    public function instance(string $id, object $object): void
    {
        $this->instances[$id] = $object;
    }

    public function register(string $class): void
    {
        $this->registered[$class] = true;
    }

    public function has(string $id): bool
    {
        return isset($this->instances[$id]) || isset($this->registered[$id]);
    }

    public function instantiateAll(): void
    {
        foreach (array_keys($this->registered) as $class) {
            $this->get($class);
        }
    }

    public function get(string $id): object
    {
        return $this->instances[$id] ??= $this->build($id);
    }

    private function build(string $class): object
    {
        if (isset($this->building[$class])) {
            throw new ContainerException("circular dependency on $class");
        }
        $this->building[$class] = true;
        try {
            $reflection = new \ReflectionClass($class);
            if (!$reflection->isInstantiable()) {
                throw new ContainerException("$class cannot be instantiated");
            }
            $constructor = $reflection->getConstructor();
            if ($constructor === null) {
                return $reflection->newInstance();
            }
            $args = [];
            foreach ($constructor->getParameters() as $parameter) {
                $type = $parameter->getType();
                if ($type instanceof \ReflectionNamedType && !$type->isBuiltin()) {
                    $args[] = $this->get($type->getName());
                } elseif ($parameter->isDefaultValueAvailable()) {
                    $args[] = $parameter->getDefaultValue();
                } else {
                    throw new ContainerException("cannot wire \${$parameter->getName()} of $class");
                }
            }
            return $reflection->newInstanceArgs($args);
        } finally {
            unset($this->building[$class]);
        }
    }
}
PHP);
put("$src/Routing/Route.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Routing;

final class Route
{
    public string $regex = '';
    /** @var list<string> */
    public array $params = [];

    public function __construct(
        public readonly string $name,
        public readonly string $method,
        public readonly string $path,
        public readonly array $handler,
    ) {
    }
}
PHP);
put("$src/Routing/RouteCompiler.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Routing;

final class RouteCompiler
{
    public function compile(Route $route): void
    {
        $params = [];
        $regex = preg_replace_callback(
            '#\{([a-z_][a-z0-9_]*)(?::([^{}]+))?\}|[^{]+#i',
            static function (array $m) use (&$params): string {
                if (!isset($m[1]) || $m[1] === '') {
                    return preg_quote($m[0], '#');
                }
                $params[] = $m[1];
                return '(?P<' . $m[1] . '>' . (($m[2] ?? '') !== '' ? $m[2] : '[^/]+') . ')';
            },
            $route->path,
        );
        $route->regex = '#^' . $regex . '$#D';
        $route->params = $params;
    }
}
PHP);
put("$src/Routing/NotFound.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Routing;

final class NotFound extends \RuntimeException
{
}
PHP);
put("$src/Routing/Router.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Routing;

final class Router
{
    /** @var array<string, Route> */
    private array $routes = [];

    public function add(string $name, string $method, string $path, array $handler): void
    {
        $this->routes[$name] = new Route($name, $method, $path, $handler);
    }

    public function compile(): void
    {
        $compiler = new RouteCompiler();
        foreach ($this->routes as $route) {
            $compiler->compile($route);
        }
    }

    /** @return array{Route, list<string>} */
    public function match(string $method, string $path): array
    {
        foreach ($this->routes as $route) {
            if ($route->method === $method && preg_match($route->regex, $path, $m)) {
                $args = [];
                foreach ($route->params as $p) {
                    $args[] = $m[$p];
                }
                return [$route, $args];
            }
        }
        throw new NotFound("no route for $method $path");
    }

    public function url(string $name, array $params = []): string
    {
        $route = $this->routes[$name] ?? throw new NotFound("no route named $name");
        return preg_replace_callback(
            '#\{([a-z_][a-z0-9_]*)(?::[^{}]+)?\}#i',
            static fn (array $m): string => rawurlencode((string) $params[$m[1]]),
            $route->path,
        );
    }
}
PHP);
put("$src/Http/Request.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Http;

final class Request
{
    public function __construct(
        private readonly string $method,
        private readonly string $path,
        private readonly array $query,
        private readonly array $server,
    ) {
    }

    public static function fromGlobals(): self
    {
        $uri = $_SERVER['REQUEST_URI'] ?? '/';
        $path = parse_url($uri, PHP_URL_PATH) ?: '/';
        return new self($_SERVER['REQUEST_METHOD'] ?? 'GET', rawurldecode($path), $_GET, $_SERVER);
    }

    public function method(): string
    {
        return $this->method;
    }

    public function path(): string
    {
        return $this->path;
    }

    public function query(string $name, mixed $default = null): mixed
    {
        return $this->query[$name] ?? $default;
    }

    public function header(string $name): ?string
    {
        return $this->server['HTTP_' . strtoupper(str_replace('-', '_', $name))] ?? null;
    }
}
PHP);
put("$src/Http/Response.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Http;

final class Response
{
    public function __construct(
        private readonly string $body,
        private readonly int $status = 200,
        private readonly array $headers = ['Content-Type' => 'text/html; charset=UTF-8'],
    ) {
    }

    public function body(): string
    {
        return $this->body;
    }

    public function send(): void
    {
        http_response_code($this->status);
        foreach ($this->headers as $name => $value) {
            header("$name: $value");
        }
        echo $this->body;
    }
}
PHP);
put("$src/View/Escaper.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\View;

final class Escaper
{
    public static function html(mixed $value): string
    {
        return htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }
}
PHP);
put("$src/View/View.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\View;

final class View
{
    public function __construct(private readonly string $dir, private readonly array $globals)
    {
    }

    public function render(string $template, array $vars): string
    {
        $vars += $this->globals;
        $e = Escaper::html(...);
        $render = function (string $__file, array $__vars) use ($e): string {
            extract($__vars, EXTR_SKIP);
            ob_start();
            try {
                require $__file;
                return ob_get_contents();
            } finally {
                ob_end_clean();
            }
        };
        $content = $render($this->dir . '/' . $template . '.php', $vars);
        return $render($this->dir . '/layout.php', ['content' => $content] + $vars);
    }
}
PHP);
put("$src/I18n/Translator.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\I18n;

final class Translator
{
    public function __construct(private readonly array $messages, private readonly string $locale)
    {
    }

    public function trans(string $key, array $params = []): string
    {
        $text = $this->messages[$key] ?? $key;
        if ($params === []) {
            return $text;
        }
        $replace = [];
        foreach ($params as $k => $v) {
            $replace['%' . $k . '%'] = (string) $v;
        }
        return strtr($text, $replace);
    }

    public function locale(): string
    {
        return $this->locale;
    }
}
PHP);
put("$src/Support/Str.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Support;

final class Str
{
    public static function slug(string $text): string
    {
        return trim(preg_replace('/[^a-z0-9]+/', '-', strtolower($text)), '-');
    }

    public static function title(string $text): string
    {
        return ucwords(str_replace(['-', '_'], ' ', $text));
    }
}
PHP);
put("$src/Support/Money.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Support;

final class Money
{
    public function __construct(private readonly array $currency)
    {
    }

    public function format(int $cents): string
    {
        return number_format($cents / 100, $this->currency['decimals'], $this->currency['dec_point'], $this->currency['thousands']) . ' ' . $this->currency['code'];
    }
}
PHP);
put("$src/Model/EntityInterface.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Model;

interface EntityInterface
{
    public function id(): int;

    public function name(): string;
}
PHP);
put("$src/Model/AbstractEntity.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Model;

abstract class AbstractEntity implements EntityInterface
{
    public function __construct(
        protected readonly int $id,
        protected readonly string $name,
        public readonly int $price,
        public readonly int $stock,
        public readonly array $tags,
    ) {
    }

    public function id(): int
    {
        return $this->id;
    }

    public function name(): string
    {
        return $this->name;
    }

    abstract public function kind(): string;
}
PHP);
for ($n = 0; $n < ENTITIES; $n++) {
    $cls = sprintf('Entity%02d', $n);
    put("$src/Model/$cls.php", <<<PHP
<?php
declare(strict_types=1);

namespace App\Model;

final class $cls extends AbstractEntity
{
    public function kind(): string
    {
        return '$cls';
    }

    public function summary(): string
    {
        return sprintf('%s #%d (%s)', \$this->name, \$this->id, implode(', ', \$this->tags));
    }
}
PHP);
}
put("$src/Service/ServiceInterface.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Service;

interface ServiceInterface
{
    public function name(): string;

    public function weight(): int;
}
PHP);
put("$src/Service/AbstractService.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Service;

use App\Config\Config;

abstract class AbstractService implements ServiceInterface
{
    protected readonly int $seed;
    protected readonly array $tags;

    public function __construct(protected readonly Config $config, private readonly string $name)
    {
        $def = $config->get('services')[static::class] ?? ['seed' => 0, 'tags' => []];
        $this->seed = $def['seed'];
        $this->tags = $def['tags'];
    }

    public function name(): string
    {
        return $this->name;
    }

    public function weight(): int
    {
        return $this->seed % 97;
    }
}
PHP);
for ($g = 0; $g < $nServices; $g++) {
    $m = intdiv($g, PER_MODULE);
    $k = $g % PER_MODULE;
    $ns = sprintf('App\\Service\\Module%02d', $m);
    $cls = sprintf('Service%02d', $k);
    $deps = svc_deps($g);
    $params = ['Config $config'];
    $assign = [];
    $props = [];
    $weights = [];
    foreach ($deps as $i => $d) {
        $params[] = '\\' . svc_fqcn($d) . " \$dep$i";
        $props[] = "    private readonly \\" . svc_fqcn($d) . " \$dep$i;";
        $assign[] = "        \$this->dep$i = \$dep$i;";
        $weights[] = "\$this->dep{$i}->weight()";
    }
    $entity = sprintf('\\App\\Model\\Entity%02d', $g % ENTITIES);
    $sumDeps = $weights ? implode(' + ', $weights) : '0';
    $paramList = implode(",\n        ", $params);
    $propList = implode("\n", $props);
    $assignList = implode("\n", $assign);
    $word = $g % 100;
    put("$src/Service/" . sprintf('Module%02d', $m) . "/$cls.php", <<<PHP
<?php
declare(strict_types=1);

namespace $ns;

use App\Config\Config;
use App\Service\AbstractService;

final class $cls extends AbstractService
{
$propList
    private readonly int \$base;

    public function __construct(
        $paramList,
    ) {
        parent::__construct(\$config, 'module$m.service$k');
$assignList
        \$this->base = \$this->seed + $sumDeps;
    }

    public function compute(int \$x): int
    {
        return (\$x * 31 + \$this->base) % 100003;
    }

    public function label(int \$id): string
    {
        return sprintf('%s-%05d', \$this->name(), \$this->compute(\$id));
    }

    public function makeItem(int \$id): $entity
    {
        \$price = 100 + \$this->compute(\$id) % 99900;
        return new $entity(
            \$id,
            'Item ' . \$id . ' word$word',
            \$price,
            (\$id * 37 + \$this->seed) % 101,
            [\$this->tags[0] ?? 'none', \$this->tags[1] ?? 'none', 'w' . (\$id % 7)],
        );
    }
}
PHP);
}

// ---- controllers ----------------------------------------------------------------------------
put("$src/Controller/AbstractController.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Controller;

use App\Config\Config;
use App\Http\Response;
use App\I18n\Translator;
use App\Routing\Router;
use App\Support\Money;
use App\View\View;

abstract class AbstractController
{
    protected readonly Money $money;

    public function __construct(
        protected readonly View $view,
        protected readonly Router $router,
        protected readonly Translator $translator,
        protected readonly Config $config,
    ) {
        $this->money = new Money($config->get('app.currency'));
    }

    protected function render(string $template, array $vars): Response
    {
        $nav = [];
        foreach ($this->config->get('app.nav') as $item) {
            $nav[] = ['url' => $this->router->url($item['route']), 'label' => $this->translator->trans($item['label'])];
        }
        $vars['nav'] = $nav;
        $vars['t'] = $this->translator;
        $vars['footer'] = $this->translator->trans('footer', ['app' => $this->config->get('app.name')]);
        return new Response($this->view->render($template, $vars));
    }
}
PHP);
put("$src/Controller/StatusController.php", <<<'PHP'
<?php
declare(strict_types=1);

namespace App\Controller;

use App\Http\Request;
use App\Http\Response;

final class StatusController
{
    public function opcache(Request $request): Response
    {
        $s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
        $text = $s !== false
            ? "opcache enabled={$s['opcache_enabled']} cached_scripts={$s['opcache_statistics']['num_cached_scripts']}\n"
            : "opcache off\n";
        return new Response($text, 200, ['Content-Type' => 'text/plain']);
    }
}
PHP);
for ($c = 0; $c < CONTROLLERS; $c++) {
    $cls = sprintf('Section%02dController', $c);
    $s = [($c * 4) % $nServices, ($c * 4 + 1) % $nServices, ($c * 4 + 2) % $nServices, ($c * 4 + 3) % $nServices];
    $fq = array_map(static fn (int $g): string => '\\' . svc_fqcn($g), $s);
    put("$src/Controller/$cls.php", <<<PHP
<?php
declare(strict_types=1);

namespace App\Controller;

use App\Config\Config;
use App\Http\Request;
use App\Http\Response;
use App\I18n\Translator;
use App\Routing\Router;
use App\View\View;

final class $cls extends AbstractController
{
    public function __construct(
        View \$view,
        Router \$router,
        Translator \$translator,
        Config \$config,
        private readonly {$fq[0]} \$catalog,
        private readonly {$fq[1]} \$pricing,
        private readonly {$fq[2]} \$recommend,
        private readonly {$fq[3]} \$labels,
    ) {
        parent::__construct(\$view, \$router, \$translator, \$config);
    }

    public function index(Request \$request): Response
    {
        \$items = [];
        \$n = \$this->config->get('app.items_per_page');
        for (\$i = 1; \$i <= \$n; \$i++) {
            \$items[] = \$this->row(\$this->catalog->makeItem(\$i));
        }
        return \$this->render('index', [
            'title' => \$this->translator->trans('title.index', ['section' => \$this->translator->trans('nav.section$c')]),
            'description' => \$this->translator->trans('section$c.description'),
            'items' => \$items,
        ]);
    }

    public function show(Request \$request, string \$id): Response
    {
        \$id = (int) \$id;
        \$item = \$this->catalog->makeItem(\$id);
        \$related = [];
        \$n = \$this->config->get('app.related_items');
        for (\$i = 1; \$i <= \$n; \$i++) {
            \$rid = \$this->recommend->compute(\$id + \$i) % 10000;
            \$related[] = \$this->row(\$this->recommend->makeItem(\$rid));
        }
        return \$this->render('show', [
            'title' => \$this->translator->trans('title.show', ['name' => \$item->name(), 'id' => \$id]),
            'description' => \$this->translator->trans('section$c.description'),
            'item' => \$this->row(\$item),
            'related' => \$related,
        ]);
    }

    private function row(\App\Model\AbstractEntity \$item): array
    {
        return [
            'url' => \$this->router->url('section$c.show', ['id' => \$item->id()]),
            'name' => \$item->name(),
            'kind' => \$item->kind(),
            'label' => \$this->labels->label(\$item->id()),
            'price' => \$this->money->format(\$this->pricing->compute(\$item->price) + \$item->price),
            'stock' => \$item->stock,
            'tags' => implode(', ', \$item->tags),
        ];
    }
}
PHP);
}

// ---- templates ------------------------------------------------------------------------------
put("$app/templates/layout.php", <<<'PHP'
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title><?= $e($title) ?> | <?= $e($site) ?></title>
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<header><a class="brand" href="/"><?= $e($site) ?></a>
<nav><ul>
<?php foreach ($nav as $link): ?>
<li><a href="<?= $e($link['url']) ?>"><?= $e($link['label']) ?></a></li>
<?php endforeach; ?>
</ul></nav>
</header>
<main>
<?= $content ?>
</main>
<footer><p><?= $e($footer) ?> &copy; <?= $e($year) ?></p></footer>
</body>
</html>
PHP);
put("$app/templates/show.php", <<<'PHP'
<article class="item">
<h1><?= $e($title) ?></h1>
<p class="description"><?= $e($description) ?></p>
<dl>
<dt><?= $e($t->trans('label.price')) ?></dt><dd><?= $e($item['price']) ?></dd>
<dt><?= $e($t->trans('label.stock')) ?></dt><dd><?= $e($item['stock']) ?></dd>
<dt><?= $e($t->trans('label.tags')) ?></dt><dd><?= $e($item['tags']) ?></dd>
</dl>
<p class="ref"><?= $e($item['kind']) ?> <?= $e($item['label']) ?></p>
</article>
<section class="related">
<h2><?= $e($t->trans('label.related')) ?></h2>
<table>
<?php foreach ($related as $r): ?>
<tr><td><a href="<?= $e($r['url']) ?>"><?= $e($r['name']) ?></a></td><td><?= $e($r['label']) ?></td><td><?= $e($r['price']) ?></td><td><?= $e($r['stock']) ?></td><td><?= $e($r['tags']) ?></td></tr>
<?php endforeach; ?>
</table>
</section>
PHP);
put("$app/templates/index.php", <<<'PHP'
<h1><?= $e($title) ?></h1>
<p class="description"><?= $e($description) ?></p>
<ul class="items">
<?php foreach ($items as $r): ?>
<li><a href="<?= $e($r['url']) ?>"><?= $e($r['name']) ?></a> <?= $e($r['price']) ?> (<?= $e($r['stock']) ?>)</li>
<?php endforeach; ?>
</ul>
PHP);

// ---- entry points ---------------------------------------------------------------------------
// Classic (php-fpm, Askr classic mode): the whole bootstrap on every request.
put("$dir/www/front.php", <<<'PHP'
<?php
declare(strict_types=1);

require __DIR__ . '/../app/bootstrap.php';

$kernel = app_boot(__DIR__ . '/../app');
$kernel->handle(App\Http\Request::fromGlobals())->send();
PHP);
// Worker mode: boot once, then serve requests in a loop.
put("$dir/workers/app.php", <<<'PHP'
<?php
declare(strict_types=1);

require __DIR__ . '/../app/bootstrap.php';

$kernel = app_boot(__DIR__ . '/../app');
$handler = static function () use ($kernel): void {
    $kernel->handle(App\Http\Request::fromGlobals())->send();
};
$served = 0;
while (askr_handle_request($handler)) {
    ++$served;
}
file_put_contents('php://stderr', 'worker ' . getmypid() . " loop ended after $served requests\n");
PHP);

$count = 0;
foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator("$app/src", FilesystemIterator::SKIP_DOTS)) as $f) $count++;
echo "$count\n";
GEN
app_classes=$("$PHP_CLI" "$tmp/gen.php" "$tmp") || die "generating the app failed"
chmod -R a+rX "$tmp"

# Each app: the page measured, the site's root and front controller, the worker script (none:
# no worker mode), the Host header sent (none: wrk's own).
declare -A path root front worker host
read -ra apps <<<"$APPS"
root[check]=$tmp/www front[check]=front.php worker[check]=$tmp/workers/check.php
path[hello]=/index.php root[hello]=$tmp/www front[hello]=front.php worker[hello]=$tmp/workers/hello.php
path[app]=/section-37/item/42 root[app]=$tmp/www front[app]=front.php worker[app]=$tmp/workers/app.php
for a in symfony laravel; do
  [[ " $APPS " == *" $a "* ]] || continue
  # The test apps as tests/integration/apps_test.cc serves them, in a copy they may write to
  # (sessions, compiled views).
  mkdir -p "$tmp/apps"
  cp -r "$repo/tests/apps/$a" "$tmp/apps/$a"
  path[$a]=/hello/bench root[$a]=$tmp/apps/$a/public front[$a]=index.php worker[$a]=$tmp/apps/$a/worker.php
done
path[wordpress]=/ root[wordpress]=/usr/share/wordpress front[wordpress]=index.php worker[wordpress]=""
host[wordpress]=$WP_HOST

# The servers that run APP: worker mode only where it has a worker script.
servers_of() { # APP
  local s
  for s in "${servers[@]}"; do
    [ "$s" = worker ] && [ -z "${worker[$1]}" ] && continue
    echo "$s"
  done
}
# Sets hargs: curl's and wrk's arguments for APP's Host header.
set_hargs() { # APP
  hargs=()
  [ -z "${host[$1]:-}" ] || hargs=(-H "Host: ${host[$1]}")
}

# ---------------------------------------------------------------------------------------------
# WordPress on a private MariaDB (as tests/integration/apps_harness.cc starts it), installed with
# the PHP CLI by tests/apps/wordpress/install.php.
mariadb_sock="$tmp/mariadb/mysql.sock"
start_mariadb() {
  local d="$tmp/mariadb"
  mkdir -p "$d"
  mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1 ||
    die "mariadb-install-db failed: $(tail -20 "$d/install.log")"
  taskset -c "$PHP_CPUS" /usr/sbin/mariadbd --no-defaults --datadir="$d/data" \
    --socket="$mariadb_sock" --skip-networking --user=root --pid-file="$d/mariadbd.pid" \
    --log-error="$d/error.log" --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=0 --skip-log-bin >"$d/stderr.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 300); do
    mariadb --no-defaults -S "$mariadb_sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || die "mariadbd exited at start: $(tail -20 "$d/error.log")"
    sleep 0.1
  done
  die "mariadbd did not start: $(tail -20 "$d/error.log")"
}
wp_config=""
install_wordpress() {
  local etc=/etc/wordpress
  start_mariadb
  mariadb --no-defaults -S "$mariadb_sock" -uroot -e "CREATE DATABASE wordpress;
    CREATE USER 'wordpress'@'localhost' IDENTIFIED BY 'askr-test';
    GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';" || die "creating the WordPress database failed"
  if [ -n "${ASKR_BENCH_MNTNS:-}" ]; then
    mkdir -p "$tmp/etc-wordpress"
    mount --bind "$tmp/etc-wordpress" /etc/wordpress || die "cannot mount over /etc/wordpress"
  else
    note "no private mount namespace: writing $etc/config-$WP_HOST.php (removed on exit)"
    wp_config="$etc/config-$WP_HOST.php"
  fi
  sed -e "s|@HOST@|$WP_HOST|g" -e "s|@DB_SOCKET@|$mariadb_sock|g" \
    "$repo/tests/apps/wordpress/config.php.in" >"$etc/config-$WP_HOST.php"
  mkdir -p "$tmp/wp-uploads"
  "$PHP_CLI" "$repo/tests/apps/wordpress/install.php" "$WP_HOST" "$tmp/wp-uploads" \
    >"$tmp/wp-install.log" 2>&1 && grep -q installed "$tmp/wp-install.log" ||
    die "installing WordPress failed: $(tail -20 "$tmp/wp-install.log")"
}
bench_on_exit() { [ -z "$wp_config" ] || rm -f "$wp_config"; }
if [[ " $APPS " == *" wordpress "* ]]; then install_wordpress; fi

# The reference page, rendered by the PHP CLI straight from front.php: every server must answer
# these bytes. The other apps' reference is nginx + php-fpm's answer in the checks below.
(cd "$tmp/www" && "$PHP_CLI" -r '$_SERVER["REQUEST_METHOD"] = "GET";
  $_SERVER["REQUEST_URI"] = $argv[1]; require "front.php";' "${path[app]}") \
  >"$tmp/app.expected" 2>"$tmp/app.expected.err" ||
  die "rendering the reference page failed: $(cat "$tmp/app.expected.err")"
[ -s "$tmp/app.expected.err" ] && die "rendering the reference page printed: $(cat "$tmp/app.expected.err")"
app_bytes=$(stat -c %s "$tmp/app.expected")
[ "$app_bytes" -gt 4000 ] || die "the app page has only $app_bytes bytes"
printf 'Hello, world!\n' >"$tmp/hello.expected"

# ---------------------------------------------------------------------------------------------
# php.ini for php-fpm; its active lines, as [pool.ini], for the Askr pools. Sections are
# ignored (php.ini's are only headings); a later line wins, as in php.ini.
ini_toml="$tmp/pool-ini.toml"
pool_ini_toml "$PHP_INI" "$ini_toml"
ini_count=$(($(wc -l <"$ini_toml") - 1))

# ---------------------------------------------------------------------------------------------
# Servers. Each is started for one measurement and stopped after it.
declare -A label
servers=(fpm classic worker)
label[fpm]="nginx + php-fpm"
label[classic]="Askr classic"
label[worker]="Askr worker mode"
cur_front=""   # nginx or askr-proxy
cur_fpm=""     # php-fpm master (fpm only)
cur_port=""
cur_log=""

write_askr_conf() { # SERVER APP PORT CONF LOG
  local mode=classic script="" names=""
  if [ "$1" = worker ]; then
    mode=worker
    script="worker_script = \"${worker[$2]}\""
  fi
  [ -z "${host[$2]:-}" ] || names="server_names = [\"${host[$2]}\"]"
  # Requests wait in Askr's queue for an idle worker; never let the queue overflow.
  local queue=$((CONNS > 256 ? CONNS : 256))
  cat >"$4" <<CONF
[server]
threads = $THREADS
error_log = "$5"

[[listen]]
address = "127.0.0.1:$3"

[[site]]
root = "${root[$2]}"
index = ["index.php"]
php = "app"
front_controller = "${front[$2]}"
$names

[[pool]]
name = "app"
workers = $WORKERS
mode = "$mode"
$script
queue = $queue

$(cat "$ini_toml")

$(askr_conf_tail 1000000 2s)
CONF
}

write_nginx_conf() { # PORT SOCK CONF LOG APP
  {
    nginx_fastcgi_conf_head "$4" "${3%.conf}"
    cat <<CONF

    server {
        listen 127.0.0.1:$1;
        server_name ${host[$5]:-localhost};
        root ${root[$5]};
        index index.php;

        location / {
            try_files \$uri /${front[$5]}\$is_args\$args;
        }

        location ~ \.php\$ {
            fastcgi_pass unix:$2;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
        }
    }
}
CONF
  } >"$3"
}

fpm_modules=$("$PHP_FPM" -c "$PHP_INI" -m 2>/dev/null || true)
grep -qx 'Zend OPcache' <<<"$fpm_modules" || die "$PHP_FPM -c $PHP_INI does not load Zend OPcache"

# Starts SERVER for APP (hello, app or check); TAG names its log.
start_server() { # SERVER APP TAG
  local s=$1 a=$2 tag=$3 base
  cur_port=$(free_port)
  base="$tmp/$s.$a"
  cur_log="$tmp/logs/$s.$a.$tag.log"
  if [ "$s" = fpm ]; then
    local sock="$tmp/php.sock" fpmlog="$tmp/logs/php-fpm.$a.$tag.log"
    rm -f "$sock"
    php_fpm_conf "$sock" "$base.fpm.conf" "$fpmlog" "$WORKERS"
    "$PHP_FPM" -t -R -c "$PHP_INI" -y "$base.fpm.conf" 2>"$tmp/php-fpm-test.log" ||
      { cat "$tmp/php-fpm-test.log" >&2; die "bad php-fpm config"; }
    taskset -c "$PHP_CPUS" "$PHP_FPM" -F -R -c "$PHP_INI" -y "$base.fpm.conf" 2>>"$fpmlog" &
    cur_fpm=$!
    pids+=("$cur_fpm")
    for _ in $(seq 100); do
      kill -0 "$cur_fpm" 2>/dev/null || die "php-fpm exited at start: $(cat "$fpmlog")"
      [ -S "$sock" ] && [ "$( (pgrep -P "$cur_fpm" || true) | wc -l)" -ge "$WORKERS" ] && break
      sleep 0.1
    done
    [ -S "$sock" ] || die "php-fpm did not create $sock"
    write_nginx_conf "$cur_port" "$sock" "$base.nginx.conf" "$cur_log" "$a"
    nginx_start "$tmp/nginx" "$cur_log" "$base.nginx.conf"
  else
    write_askr_conf "$s" "$a" "$cur_port" "$base.toml" "$cur_log"
    askr_start "$ASKR_COPY" "$base.toml" "$cur_log" env "ASKR_WORKER_BIN=$ASKR_WORKER_RUN"
  fi
  cur_front=$!
  pids+=("$cur_front")
  set_hargs "$a"
  for _ in $(seq 150); do
    kill -0 "$cur_front" 2>/dev/null || die "$s exited at start; log: $(cat "$cur_log")"
    [ "$(curl -s "${hargs[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$cur_port${path[$a]:-/check.php}")" = 200 ] &&
      return 0
    sleep 0.1
  done
  die "$s ($a) did not answer 200 on 127.0.0.1:$cur_port; log: $(tail -20 "$cur_log")"
}

stop_server() {
  stop_pid "$cur_front"
  cur_front=""
  if [ -n "$cur_fpm" ]; then
    stop_pid "$cur_fpm"
    cur_fpm=""
  fi
  sleep 1
}

# Snapshots of the server's group and of the PHP group: SUFFIX 0 before, 1 after.
snapshot_server() { # SUFFIX
  if [ -n "$cur_fpm" ]; then
    cpu_snapshot "$cur_front" 1 1 >"$tmp/front$1"; cpu_snapshot "$cur_fpm" 1 1 >"$tmp/php$1"
  else
    cpu_snapshot "$cur_front" 1 0 >"$tmp/front$1"; cpu_snapshot "$cur_front" 0 1 >"$tmp/php$1"
  fi
}

# Time of the SERVER_CPUS and PHP_CPUS cores (lib.sh: core_snapshot): how busy they were, and
# with what, shows whether other work shared them.
busy_cpus=$(expand_cpus "$SERVER_CPUS,$PHP_CPUS" | tr ' ' '\n' | sort -nu | paste -sd,)
server_cpus=" $(expand_cpus "$busy_cpus") "

# WordPress's nonces (10 hex digits) differ from one server to the next: compared as NONCE.
without_nonces() { sed -E 's/(nonce[^0-9a-zA-Z]{0,6}|_wpnonce=)[0-9a-f]{10}\b/\1NONCE/gI' "$1"; }

# Checks SERVER's answer for APP: 200 and the expected body (the first answer becomes the
# expected one where the script has none).
check_answer() { # SERVER APP
  local s=$1 a=$2 code
  set_hargs "$a"
  code=$(curl -s "${hargs[@]}" -o "$tmp/check.body" -w '%{http_code}' "http://127.0.0.1:$cur_port${path[$a]}")
  [ "$code" = 200 ] || die "${label[$s]}: GET ${path[$a]} answered $code: $(head -c 300 "$tmp/check.body")"
  [ -e "$tmp/$a.expected" ] || cp "$tmp/check.body" "$tmp/$a.expected"
  cmp -s <(without_nonces "$tmp/check.body") <(without_nonces "$tmp/$a.expected") ||
    die "${label[$s]}: GET ${path[$a]}: the body differs from the reference ($(stat -c %s "$tmp/check.body") bytes): $(head -c 300 "$tmp/check.body")"
}

run_wrk() { # APP SECONDS OUTFILE
  set_hargs "$1"
  wrk_run "http://127.0.0.1:$cur_port${path[$1]}" "$2" "$3" "${hargs[@]}"
}

# ---------------------------------------------------------------------------------------------
# Checks before measuring: what PHP runs with, through each server; then every server answers
# each app with 200 and the expected bytes.
for s in "${servers[@]}"; do
  start_server "$s" check check
  curl -s "http://127.0.0.1:$cur_port/check.php" >"$tmp/check.$s.txt"
  stop_server
  grep -qx 'opcache_get_status() !== false: true' "$tmp/check.$s.txt" ||
    die "${label[$s]}: opcache is not on: $(cat "$tmp/check.$s.txt")"
  grep -qx 'opcache_enabled: true' "$tmp/check.$s.txt" ||
    die "${label[$s]}: opcache is not enabled: $(cat "$tmp/check.$s.txt")"
done
settings_same=yes
for s in classic worker; do
  cmp -s "$tmp/check.fpm.txt" "$tmp/check.$s.txt" || settings_same=no
done
declare -A app_opcache
for s in "${servers[@]}"; do
  for a in "${apps[@]}"; do
    [[ " $(servers_of "$a" | tr '\n' ' ') " == *" $s "* ]] || continue
    start_server "$s" "$a" check
    check_answer "$s" "$a"
    if [ "$a" = app ]; then
      app_opcache[$s]=$(curl -s "http://127.0.0.1:$cur_port/_status/opcache")
    fi
    stop_server
  done
done

# ---------------------------------------------------------------------------------------------
# The PHP processes of the running server: php-fpm's children, askr-proxy's askr-workers.
php_pids() { pgrep -P "${cur_fpm:-$cur_front}" || true; }
# The processes that talk to the clients: nginx's workers, askr-proxy.
front_pids() { if [ -n "$cur_fpm" ]; then pgrep -P "$cur_front" || true; else echo "$cur_front"; fi; }

# Proportional set size (kB, /proc/PID/smaps_rollup) of the PHP workers, and of the process
# they are forked from, which serves no request: php-fpm's master, Askr's pool zygote (the
# oldest of askr-proxy's children; the workers are its siblings). "WORKERS_MEAN COUNT PARENT".
pss_per_php() {
  local parent workers
  if [ -n "$cur_fpm" ]; then
    parent=$cur_fpm
    workers=$(pgrep -P "$cur_fpm" || true)
  else
    parent=$(ps -o pid= --ppid "$cur_front" --sort=start_time | head -1 | tr -d ' ')
    workers=$(pgrep -P "$cur_front" | grep -vx "$parent" || true)
  fi
  # shellcheck disable=SC2086
  echo "$(pss_mean $workers) $(pss_mean $parent | cut -d' ' -f1)"
}

# Where the stopped askr-proxy's PHP requests spent their time, from the per-pool totals each
# loop logs when it stops: "REQUESTS QUEUED_US PHP_US IO_US" (all 0 for nginx + php-fpm).
time_split() { # LOG
  sed -nE 's/.*: pool app: ([0-9]+) PHP requests, ([0-9]+) us queued, ([0-9]+) us in PHP, ([0-9]+) us in I\/O.*/\1 \2 \3 \4/p' "$1" |
    awk '{ n += $1; q += $2; p += $3; i += $4 } END { printf "%d %d %d %d\n", n, q, p, i }'
}

# Measurement: ROUNDS rounds; in each, every app on every server in turn, so noise on the
# machine spreads over all of them.
measure() { # SERVER APP ROUND
  local s=$1 a=$2 r=$3 c0 c1 w0 w1
  start_server "$s" "$a" "r$r"
  run_wrk "$a" "$WARMUP" "$tmp/warmup.txt"
  w0=$(date +%s%N); snapshot_server 0; c0=$(core_snapshot "$busy_cpus")
  run_wrk "$a" "$DURATION" "$tmp/wrk.$s.$a.$r.txt"
  snapshot_server 1; c1=$(core_snapshot "$busy_cpus"); w1=$(date +%s%N)
  pss_per_php >"$tmp/pss.$s.$a.$r.txt"
  kill -0 "$cur_front" 2>/dev/null || die "$s died under wrk; log: $(tail -20 "$cur_log")"
  [ -z "$cur_fpm" ] || kill -0 "$cur_fpm" 2>/dev/null || die "php-fpm died under wrk"
  # Fields: server NS GONE NEW, PHP NS GONE NEW, cores TOTAL IDLE STEAL (ticks), wall NS.
  echo "$(cpu_delta "$tmp/front0" "$tmp/front1") $(cpu_delta "$tmp/php0" "$tmp/php1")" \
    "$(awk -v a="$c0" -v b="$c1" 'BEGIN { split(a, x, " "); split(b, y, " ");
      printf "%.0f %.0f %.0f", y[1] - x[1], y[2] - x[2], y[3] - x[3] }')" \
    "$((w1 - w0))" >"$tmp/cpu.$s.$a.$r.txt"
  check_answer "$s" "$a"
  stop_server
  time_split "$cur_log" >"$tmp/split.$s.$a.$r.txt"
}

load_rounds=()
for r in $(seq "$ROUNDS"); do
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      echo "round $r/$ROUNDS, ${label[$s]}, $a" >&2
      measure "$s" "$a" "$r"
    done
  done
  load_rounds+=("$(cut -d' ' -f1 /proc/loadavg)")
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# System calls per request: a separate short run per server and app with strace -c -f attached
# to the front processes and, separately, to the PHP processes (strace slows both: only the
# counts mean anything).
strace_pass() { # SERVER APP
  local s=$1 a=$2 side list st=()
  start_server "$s" "$a" strace
  run_wrk "$a" "$WARMUP" "$tmp/warmup.txt"
  for side in front php; do
    if [ "$side" = front ]; then list=$(front_pids); else list=$(php_pids); fi
    # shellcheck disable=SC2046
    strace -c -f -S calls -o "$tmp/strace.$side.$s.$a.txt" $(printf -- '-p %s ' $list) 2>/dev/null &
    st+=("$!")
    pids+=("$!")
  done
  sleep 1 # attached
  run_wrk "$a" "$STRACE_DURATION" "$tmp/wrk.strace.$s.$a.txt"
  kill -INT "${st[@]}" 2>/dev/null || true
  for side in "${st[@]}"; do stop_pid "$side"; done
  stop_server
}
if [ "$STRACE_DURATION" != 0 ]; then
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      echo "strace, ${label[$s]}, $a" >&2
      strace_pass "$s" "$a"
    done
  done
fi
# System calls per request of SIDE (front or php), then the four most frequent: "N (a b c d)".
syscalls_per_request() { # SERVER APP SIDE
  local f="$tmp/strace.$3.$1.$2.txt" n
  [ -s "$f" ] || { echo "—"; return; }
  n=$(wrk_field "$tmp/wrk.strace.$1.$2.txt" requests)
  echo "$(div_1 "$(strace_field "$f" calls)" "$n") ($(strace_field "$f" top4))"
}

# CPU microseconds per request: WHICH = front, php or total.
cpu_us() { # SERVER APP ROUND WHICH
  local req
  req=$(wrk_field "$tmp/wrk.$1.$2.$3.txt" requests)
  awk -v n="$req" -v w="$4" '{
      v = (w == "front") ? $1 : (w == "php") ? $4 : $1 + $4
      if (n > 0) printf "%.1f", v / 1000 / n; else print "n/a" }' "$tmp/cpu.$1.$2.$3.txt"
}
# How busy the server cores were during a measured run: "ALL/OURS" in percent. ALL: the ticks
# that were not idle, of all the cores' ticks; OURS: run time of this server and its PHP
# processes, of the wall time x cores. Appended when they occur: steal time, and ticks missing
# (fewer ticks than wall time x cores x CLK_TCK: the virtual CPU was not running, and a task's
# run time, which the kernel takes from the guest's clock, may then include that time).
core_busy() { # SERVER APP ROUND
  awk -v hz="$clk_tck" -v ncpu="$(wc -w <<<"$server_cpus")" '{
      t = $7; wall = $10 * ncpu; if (t <= 0 || wall <= 0) { print "n/a"; next }
      out = sprintf("%.0f/%.0f", 100 * (t - $8) / t, 100 * ($1 + $4) / wall)
      if ($9 > 0) out = out sprintf(", steal %.0f%%", 100 * $9 / t)
      miss = 1 - t / (wall / 1e9 * hz); if (miss > 0.05) out = out sprintf(", %.0f%% of ticks missing", 100 * miss)
      print out }' "$tmp/cpu.$1.$2.$3.txt"
}
# PHP processes that ended during a measured run (the supervisor starts another for each).
ended() { # SERVER APP ROUND
  awk '{ print $5 }' "$tmp/cpu.$1.$2.$3.txt"
}

# The median round by requests/s (lib.sh: median, median_round).
median_run() { median_round "$tmp/wrk.$1.$2"; } # SERVER APP -> round number
rounds_of() { # SERVER APP FIELD|front|php|total -> "a / b / c"
  local r v out=()
  for r in $(seq "$ROUNDS"); do
    case "$3" in
      front | php | total) v=$(cpu_us "$1" "$2" "$r" "$3") ;;
      rps) v=$(printf '%.0f' "$(wrk_field "$tmp/wrk.$1.$2.$r.txt" rps)") ;;
      *) v=$(wrk_field "$tmp/wrk.$1.$2.$r.txt" "$3") ;;
    esac
    out+=("$v")
  done
  local IFS=/
  echo "${out[*]}" | sed 's/\// \/ /g'
}
ratio_by_round() { # SERVER APP rps|total  (SERVER / fpm, round by round)
  local r a b out=()
  for r in $(seq "$ROUNDS"); do
    if [ "$3" = rps ]; then
      a=$(wrk_field "$tmp/wrk.$1.$2.$r.txt" rps); b=$(wrk_field "$tmp/wrk.fpm.$2.$r.txt" rps)
    else
      a=$(cpu_us "$1" "$2" "$r" total); b=$(cpu_us fpm "$2" "$r" total)
    fi
    out+=("$(awk -v a="$a" -v b="$b" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }')")
  done
  local IFS=/
  echo "${out[*]}" | sed 's/\// \/ /g'
}

# ---------------------------------------------------------------------------------------------
# Report.
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
nginx_version=$(nginx_version)
fpm_version=$("$PHP_FPM" -v 2>/dev/null | awk 'NR==1{print $2}')
wrk_version=$(wrk_version)
askr_version=$( ("$ASKR_COPY" --version 2>&1 || true) | awk 'NR == 1')
worker_info="$tmp/askr-worker-version.txt"
"$ASKR_WORKER_COPY" --version >"$worker_info" 2>&1 || true
worker_php=$(awk -F': ' '$1 == "php" {print $2}' "$worker_info")
worker_scan=$(awk -F': ' '$1 == "ini_scan_dir" {print $2}' "$worker_info")
worker_ini=$(awk -F': ' '$1 == "php_ini" {print $2}' "$worker_info")
worker_opcache=$(awk -F': ' '$1 == "opcache" {print $2}' "$worker_info")
if [ -n "$ASKR_REV" ]; then
  askr_version+=" ($ASKR_REV)"
elif rev=$(askr_rev proxy shared worker) && [ -n "$rev" ]; then
  askr_version+=" (commit $rev)"
fi
askr_backend=$(cat "$tmp"/logs/classic.*.log 2>/dev/null | grep -ohE 'io_uring|epoll' | awk 'NR == 1' || true)
cmdline="SERVER_CPUS=$SERVER_CPUS THREADS=$THREADS PHP_CPUS=$PHP_CPUS CLIENT_CPUS=$CLIENT_CPUS WORKERS=$WORKERS WRK_THREADS=$WRK_THREADS CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS STRACE_DURATION=$STRACE_DURATION APPS=\"$APPS\" bench/php.sh"

report="$tmp/report.md"
{
  echo "# PHP: nginx + php-fpm vs Askr classic vs Askr worker mode"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r)"
  echo "- Servers: $askr_version${askr_backend:+ ($askr_backend backend)}, $THREADS loop thread(s), with"
  echo "  askr-worker (PHP $worker_php, php.ini: $worker_ini, conf.d: $worker_scan, OPcache $worker_opcache);"
  echo "  nginx $nginx_version ($THREADS worker(s)) + php-fpm $fpm_version (pm = static). Client: wrk $wrk_version"
  echo "- PHP processes: $WORKERS in every server (php-fpm \`pm.max_children\`, Askr \`workers\`);"
  if [ "$PHP_CPUS" = "$SERVER_CPUS" ]; then
    echo "  servers and PHP pinned to CPU(s) $SERVER_CPUS, wrk pinned to CPU(s) $CLIENT_CPUS"
  else
    echo "  servers (nginx, askr-proxy) pinned to CPU(s) $SERVER_CPUS, PHP processes (php-fpm;"
    echo "  askr-worker) to CPU(s) $PHP_CPUS, wrk to CPU(s) $CLIENT_CPUS"
  fi
  echo "- PHP settings: php-fpm reads \`$PHP_INI\`; its $ini_count active lines are the Askr pools'"
  echo "  \`[pool.ini]\` (with \`opcache.enable = 1\`). Through every server, \`check.php\` printed the same"
  echo "  settings: $settings_same."
  echo "- Command: \`$cmdline\`"
  echo "- Load average (1, 5, 15 min) at start: $load_start; at end: $load_end;"
  echo "  1-min load after each round: ${load_rounds[*]}"
  echo
  echo "What \`check.php\` printed (php-fpm; then any server that differs):"
  echo
  echo '```'
  cat "$tmp/check.fpm.txt"
  echo '```'
  for s in classic worker; do
    if ! cmp -s "$tmp/check.fpm.txt" "$tmp/check.$s.txt"; then
      echo
      echo "${label[$s]}:"
      echo
      echo '```'
      cat "$tmp/check.$s.txt"
      echo '```'
    fi
  done
  echo
  if [[ " $APPS " == *" app "* ]]; then
    echo "The generated app's own status route after one request (\`/_status/opcache\`): $(for s in "${servers[@]}"; do printf '%s: `%s`; ' "${label[$s]}" "$(echo "${app_opcache[$s]:-}" | tr -d '\n')"; done | sed 's/; $//')."
    echo
  fi
  echo "## Throughput and latency"
  echo
  echo "\`wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\` (after ${WARMUP}s of warm-up), keep-alive clients,"
  echo "$ROUNDS rounds interleaved. Apps measured: ${apps[*]}. \`hello\` = \`${path[hello]}\` (14 bytes); \`app\` = \`${path[app]}\`,"
  echo "a $app_bytes-byte page from a generated app of $app_classes class files (classic and php-fpm"
  echo "boot it on every request; worker mode once per worker); \`symfony\` and \`laravel\` ="
  echo "\`/hello/bench\` on the Symfony 5.4 and Laravel 8 apps of \`tests/apps/\` (Debian's packages;"
  echo "\`public/index.php\`, in worker mode \`worker.php\`); \`wordpress\` = \`/\` of Debian's WordPress"
  echo "on a private MariaDB (no worker mode). Every server answered each app with 200 and the"
  echo "expected bytes (the generated app's page as the PHP CLI renders it; for the others nginx +"
  echo "php-fpm's answer, WordPress's nonces aside) before and after each run."
  echo "Reported: the median round by requests/s, with the p50, p99 and errors of that same round;"
  echo "every round is listed. \"/ php-fpm\" divides by nginx + php-fpm on the same app."
  echo
  echo "| Server | App | Requests/s | p50 | p99 | / php-fpm | Non-2xx | Socket errors | All rounds (req/s) | / php-fpm, round by round |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---|---|"
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      m=$(median_run "$s" "$a")
      f="$tmp/wrk.$s.$a.$m.txt"
      rps=$(wrk_field "$f" rps)
      ratio="—"; byround="—"
      if [ "$s" != fpm ]; then
        pm=$(median_run fpm "$a")
        ratio=$(awk -v a="$rps" -v b="$(wrk_field "$tmp/wrk.fpm.$a.$pm.txt" rps)" 'BEGIN{printf "%.2f", a/b}')
        byround=$(ratio_by_round "$s" "$a" rps)
      fi
      printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$a" "$rps" \
        "$(wrk_field "$f" p50)" "$(wrk_field "$f" p99)" "$ratio" "$(wrk_field "$f" non2xx)" \
        "$(wrk_field "$f" sockerr)" "$(rounds_of "$s" "$a" rps)" "$byround"
    done
  done
  echo
  echo "Latency, every round (p50 / p99):"
  echo
  echo "| Server | App | p50 by round | p99 by round |"
  echo "|---|---|---|---|"
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      printf '| %s | %s | %s | %s |\n' "${label[$s]}" "$a" "$(rounds_of "$s" "$a" p50)" "$(rounds_of "$s" "$a" p99)"
    done
  done
  echo
  echo "Errors over all rounds (sum of Non-2xx responses; any socket-error line that is not all zeros):"
  echo
  for s in "${servers[@]}"; do wrk_errors_line "${label[$s]}" "$tmp/wrk.$s" "${apps[@]}"; done
  echo
  echo "## CPU time per request"
  echo
  echo "Run time of the server's processes (nginx: master and worker; Askr: askr-proxy, all threads)"
  echo "and of the PHP processes (php-fpm: master and children; Askr: the askr-worker processes)"
  echo "during the measured wrk run, from \`/proc/PID/task/TID/schedstat\` (user and system time"
  echo "together; a process that ends during the run counts until it ends, through its parent's"
  echo "\`cutime\` + \`cstime\`), divided by the requests wrk completed. CPU time per request moves"
  echo "much less with load on the machine than requests/s. Medians of the rounds, then every round."
  echo "\"PHP processes ended\" counts PHP processes that ended during the measured runs (all"
  echo "rounds)."
  echo "\"Server cores busy\" is, per round, the share of the ticks of CPU(s) $busy_cpus (/proc/stat)"
  echo "that were not idle, then the share of the wall time this server and its PHP processes ran:"
  echo "the difference is other work on the machine that ran on the same core(s). \"Ticks missing\""
  echo "means the virtual CPU did not run for part of the time (the hypervisor ran something else);"
  echo "run times from schedstat may then include time the virtual CPU stood still."
  echo
  echo "| Server | App | Total µs/request | / php-fpm | Server µs/request | PHP µs/request | Total, by round | / php-fpm, by round | Server cores busy %, all/ours, by round | PHP processes ended |"
  echo "|---|---|---:|---:|---:|---:|---|---|---|---:|"
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      ct=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$a" "$r" total)"; done | median)
      c1=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$a" "$r" front)"; done | median)
      c2=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$a" "$r" php)"; done | median)
      rep=0
      for r in $(seq "$ROUNDS"); do rep=$((rep + $(ended "$s" "$a" "$r"))); done
      ratio="—"; byround="—"
      if [ "$s" != fpm ]; then
        pc=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us fpm "$a" "$r" total)"; done | median)
        ratio=$(awk -v a="$ct" -v b="$pc" 'BEGIN{printf "%.2f", a/b}')
        byround=$(ratio_by_round "$s" "$a" total)
      fi
      busy=$(for r in $(seq "$ROUNDS"); do core_busy "$s" "$a" "$r"; done | paste -sd'|' | sed 's/|/ \/ /g')
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$a" "$ct" "$ratio" \
        "$c1" "$c2" "$(rounds_of "$s" "$a" total)" "$byround" "$busy" "$rep"
    done
  done
  echo
  echo "## Per PHP request: system calls, memory and where the time goes"
  echo
  if [ "$STRACE_DURATION" = 0 ]; then
    echo "- System calls per request: not counted in this run (\`STRACE_DURATION=0\`: no strace pass)."
  else
    echo "- System calls per request: \`strace -c -f\` attached, on a separate ${STRACE_DURATION}s wrk run per"
    echo "  server and app (after ${WARMUP}s of warm-up), to the front (nginx's worker; askr-proxy, all"
    echo "  threads) and to the PHP processes (php-fpm's children; the askr-worker processes); all"
    echo "  calls while attached, divided by the requests wrk completed; the four most frequent follow."
    echo "  Under strace everything is much slower: only the counts mean anything. With io_uring, one"
    echo "  \`io_uring_enter\` submits and reaps many operations."
  fi
  echo "- Front CPU µs/request: the \"Server µs/request\" of the table above (schedstat run time of"
  echo "  nginx or askr-proxy over the measured run, per request), median of the rounds."
  echo "- PSS per PHP worker: \`Pss\` of \`/proc/PID/smaps_rollup\` of each PHP worker at the end of"
  echo "  the measured run, averaged over them (php-fpm's children; the askr-worker processes forked"
  echo "  from the pool's zygote), median of the rounds; then that of the process they are forked"
  echo "  from, which serves no request (php-fpm's master; the zygote). PSS divides each shared page"
  echo "  among the processes that map it, the parent included."
  echo "- Queued / in PHP / I/O: Askr's own split of each PHP request's time in askr-proxy (see the"
  echo "  README), from the per-pool totals each loop logs when it stops, over every request of the"
  echo "  measured instance (warm-up, run and checks), in µs per request; median of the rounds."
  echo
  echo "| Server | App | Syscalls/request, front | Syscalls/request, PHP | Front CPU µs/request | PSS per PHP worker (kB) | PSS of master / zygote (kB) | Queued µs | In PHP µs | I/O µs |"
  echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|"
  for a in "${apps[@]}"; do
    for s in $(servers_of "$a"); do
      c1=$(for r in $(seq "$ROUNDS"); do echo "$(cpu_us "$s" "$a" "$r" front)"; done | median)
      pss=$(for r in $(seq "$ROUNDS"); do cut -d' ' -f1 "$tmp/pss.$s.$a.$r.txt"; done | median)
      pss_parent=$(for r in $(seq "$ROUNDS"); do cut -d' ' -f3 "$tmp/pss.$s.$a.$r.txt"; done | median)
      split=("—" "—" "—")
      if [ "$s" != fpm ]; then
        for k in 2 3 4; do
          split[k - 2]=$(for r in $(seq "$ROUNDS"); do
            awk -v k="$k" '{ if ($1 > 0) printf "%.0f\n", $k / $1 }' "$tmp/split.$s.$a.$r.txt"; done | median)
        done
      fi
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "$a" \
        "$(syscalls_per_request "$s" "$a" front)" "$(syscalls_per_request "$s" "$a" php)" "$c1" \
        "${pss:-—}" "${pss_parent:-—}" "${split[0]:-—}" "${split[1]:-—}" "${split[2]:-—}"
    done
  done
  echo
  for s in "${servers[@]}" php-fpm; do
    files=("$tmp"/logs/"$s".*.log)
    [ -e "${files[0]}" ] || continue
    pattern='error|warn|alert|crit|emerg|restart|recycl|killing|starting another'
    n=$(cat "${files[@]}" | grep -ciE "$pattern" || true)
    if [ "$n" -gt 0 ]; then
      echo "Log lines of note from ${label[$s]:-$s} ($n in all; the first 20):"
      echo
      echo '```'
      cat "${files[@]}" | grep -iE "$pattern" | awk 'NR <= 20'
      echo '```'
      echo
      # A worker-mode worker that left: did its worker script leave its loop (it says so on
      # stderr), or did PHP end the script from inside a request (a bailout)?
      for p in $(cat "${files[@]}" | sed -nE 's/.*: worker ([0-9]+) (recycled|exited|killed).*/\1/p' | awk 'NR <= 20'); do
        l=$(cat "${files[@]}" | grep -E "^worker $p loop ended" || true)
        if [ -n "$l" ]; then
          echo "- worker $p: its script said \"${l#worker $p }\""
        elif [ "$s" = worker ]; then
          echo "- worker $p: its script never left its \`askr_handle_request()\` loop (no \"loop ended\" line):"
          echo "  PHP ended the worker script from inside a request"
        fi
      done
      echo
    else
      echo "Logs of ${label[$s]:-$s}: no errors, warnings, restarts or recycling."
      echo
    fi
  done
} >"$report"

publish_report "$report"
