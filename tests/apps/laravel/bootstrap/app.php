<?php
// The Laravel test app: Debian's Laravel 8 (found through include_path, /usr/share/php), the
// app's own App\ classes under app/, and the directories Laravel writes to.
require_once 'Illuminate/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) === 0) {
        $file = dirname(__DIR__) . '/app/' . str_replace('\\', '/', substr($class, 4)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});

$base = dirname(__DIR__);
foreach (['bootstrap/cache', 'storage/framework/sessions', 'storage/framework/views', 'storage/logs'] as $dir) {
    if (!is_dir("$base/$dir")) {
        @mkdir("$base/$dir", 0777, true);
    }
}

$app = new Illuminate\Foundation\Application($base);
$app->singleton(Illuminate\Contracts\Http\Kernel::class, App\Http\Kernel::class);
$app->singleton(Illuminate\Contracts\Debug\ExceptionHandler::class, App\Exceptions\Handler::class);

return $app;
