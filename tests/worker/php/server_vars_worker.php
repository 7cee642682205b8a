<?php
// server_vars.php as a worker-mode handler.
$handler = static function (): void {
    require __DIR__ . '/server_vars.php';
};
while (askr_handle_request($handler)) {
}
