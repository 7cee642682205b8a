<?php
// Autoloading for the Symfony test app: Debian's autoloaders for the framework (found through
// include_path, /usr/share/php), and a small PSR-4 loader for the app's own App\ classes.
require_once 'Symfony/Bundle/FrameworkBundle/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) === 0) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 4)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
