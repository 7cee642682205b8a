<?php
namespace App;

use App\Controller\AppController;
use Symfony\Bundle\FrameworkBundle\FrameworkBundle;
use Symfony\Bundle\FrameworkBundle\Kernel\MicroKernelTrait;
use Symfony\Component\DependencyInjection\Loader\Configurator\ContainerConfigurator;
use Symfony\Component\HttpKernel\Kernel as BaseKernel;
use Symfony\Component\Routing\Loader\Configurator\RoutingConfigurator;

// A micro kernel configured in PHP (no YAML): the framework bundle, sessions through
// framework.session (the native file handler, which Symfony registers with
// session_set_save_handler()), and four routes.
final class Kernel extends BaseKernel
{
    use MicroKernelTrait;

    public function registerBundles(): iterable
    {
        return [new FrameworkBundle()];
    }

    public function getProjectDir(): string
    {
        return \dirname(__DIR__);
    }

    protected function configureContainer(ContainerConfigurator $container): void
    {
        $container->extension('framework', [
            'secret' => 'askr-app-test',
            'http_method_override' => false,
            'session' => [
                'storage_factory_id' => 'session.storage.factory.native',
                'handler_id' => 'session.handler.native_file',
                'save_path' => '%kernel.project_dir%/var/sessions',
                'cookie_samesite' => 'lax',
            ],
            'router' => ['utf8' => true],
        ]);
        $container->services()
            ->set(AppController::class)
            ->public()
            ->tag('controller.service_arguments');
    }

    protected function configureRoutes(RoutingConfigurator $routes): void
    {
        $routes->add('hello', '/hello/{name}')->controller([AppController::class, 'hello']);
        $routes->add('counter', '/counter')->controller([AppController::class, 'counter']);
        $routes->add('boom', '/boom')->controller([AppController::class, 'boom']);
        $routes->add('form', '/form')->controller([AppController::class, 'form'])->methods(['POST']);
    }
}
