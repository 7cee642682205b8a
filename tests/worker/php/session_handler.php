<?php
// A worker script that registers its session save handler once, at boot, as frameworks do: a
// handler storing each session in a file of its own directory, counting its calls.
final class CountingFileHandler implements SessionHandlerInterface
{
    public int $reads = 0;
    public int $writes = 0;

    public function __construct(private string $dir)
    {
    }

    public function open(string $path, string $name): bool
    {
        return is_dir($this->dir) || mkdir($this->dir);
    }

    public function close(): bool
    {
        return true;
    }

    public function read(string $id): string|false
    {
        $this->reads++;
        return (string) @file_get_contents($this->dir . '/' . $id);
    }

    public function write(string $id, string $data): bool
    {
        $this->writes++;
        return file_put_contents($this->dir . '/' . $id, $data) !== false;
    }

    public function destroy(string $id): bool
    {
        @unlink($this->dir . '/' . $id);
        return true;
    }

    public function gc(int $max_lifetime): int|false
    {
        return 0;
    }
}

$handler = new CountingFileHandler(session_save_path() . '/user');
session_set_save_handler($handler, true);

while (askr_handle_request(function () use ($handler): void {
    session_start();
    $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
    echo json_encode(['n' => $_SESSION['n'], 'reads' => $handler->reads,
                      'module' => session_module_name()]);
})) {
}
