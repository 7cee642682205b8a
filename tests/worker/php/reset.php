<?php
// A worker script for what must not outlive a request: ini settings (those set at boot, and
// session settings, stay),
// the time limit, the last error, output buffers, headers and status, the umask, the locale and
// the working directory (back to the boot's); and for what does:
// putenv() and $_ENV changes made at boot, shutdown functions (run when the script ends).
ini_set('precision', '10');
umask(027);
putenv('ASKR_BOOT_PUTENV=boot');
$_ENV['ASKR_BOOT_ENV'] = 'boot';

while (askr_handle_request(static function (): void {
    switch ($_GET['t'] ?? 'get') {
        case 'set':
            set_time_limit(0);
            ini_set('display_errors', '1');
            ini_set('precision', '5');
            ini_set('memory_limit', '77M');
            ini_set('session.gc_maxlifetime', '4321');  // the app's session set-up: kept
            umask(0);
            setlocale(LC_ALL, 'C.UTF-8');
            chdir('/');
            @file_get_contents('/nonexistent/askr-reset-test');
            header('X-Left: behind');
            http_response_code(201);
            register_shutdown_function(static function (string $path): void {
                file_put_contents($path, 'ran');
            }, $_GET['file'] ?? '/dev/null');
            ob_start();
            ob_start();
            echo 'set';
            break;
        case 'session':
            echo ini_get('session.gc_maxlifetime');
            break;
        case 'get':
            header('Content-Type: application/json');
            echo json_encode([
                'max_execution_time' => ini_get('max_execution_time'),
                'display_errors' => ini_get('display_errors'),
                'precision' => ini_get('precision'),
                'memory_limit' => ini_get('memory_limit'),
                'last_error' => error_get_last(),
                'ob_level' => ob_get_level(),
                'code' => http_response_code(),
                'headers' => headers_list(),
                'putenv' => getenv('ASKR_BOOT_PUTENV'),
                'env' => $_ENV['ASKR_BOOT_ENV'] ?? null,
                'umask' => decoct(umask()),
                'locale' => setlocale(LC_ALL, '0'),
                'cwd' => getcwd(),
            ]);
            break;
    }
})) {
}
